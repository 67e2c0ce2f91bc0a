"""epc.dump and epc.open_dump against `epc dump`'s HDF5 file read with h5py, and the arrays
against the network's equations recomputed with numpy."""

from __future__ import annotations

import json

import h5py
import numpy as np
import onnx
import pytest
import xarray as xr
from onnx import numpy_helper

import epc
from conftest import DIGITS_MODEL, TWO_LAYER

# Attributes that differ between two dumps of the same thing (the time; the file's compression).
VOLATILE = {"created_utc", "compression"}


def _h5_attrs(f) -> dict:
    out = {}
    for k, v in f.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        out[k] = v.tolist() if isinstance(v, np.ndarray) else (int(v) if isinstance(v, np.integer) else v)
    return out


@pytest.mark.parametrize(
    "model, kw, cli",
    [
        (DIGITS_MODEL, dict(seed=2), ["--seed", "2"]),
        (DIGITS_MODEL, dict(sequences="published", lesion="prediction"),
         ["--sequences", "published", "--lesion", "prediction"]),
        (TWO_LAYER, dict(arrays=("input", "preact", "act", "drive_in", "drive_rec", "transmission"),
                         lesion="random"),
         ["--arrays", "input,preact,act,drive_in,drive_rec,transmission", "--lesion", "random"]),
    ],
)
def test_dump_equals_the_command_lines_file(model, kw, cli, run_epc, tmp_path):
    out = tmp_path / "d.h5"
    run_epc("dump", "--model", model, *cli, "--out", out)
    ds = epc.dump(model, **kw)
    with h5py.File(out, "r") as f:
        names = [n for n in ("input", "preact", "act", "drive_in", "drive_rec", "transmission") if n in f]
        assert names == [n for n in names if n in ds.data_vars] and len(names) >= 3
        assert sorted(names) == sorted(n for n in ds.data_vars if n not in ("lesion_mask",))
        for n in names:
            assert ds[n].dims == ("step", "sequence", "pixel" if n == "input" else "unit")
            np.testing.assert_array_equal(ds[n].values, f[n][()])
        np.testing.assert_array_equal(ds.labels.values, f["labels"][()])
        np.testing.assert_array_equal(ds.frames.values, f["frames"][()])
        np.testing.assert_array_equal(ds.sequence_set.values, f["sequence_set"][()])
        if "lesion_mask" in f:
            np.testing.assert_array_equal(ds.lesion_mask.values, f["lesion_mask"][()])
            assert (f["lesion_mask"][()] == 0).sum() > 0
        attrs = _h5_attrs(f)
        for k, v in attrs.items():
            if k in VOLATILE:
                continue
            got = ds[k].values.tolist() if k.startswith("unit_") else ds.attrs[k]
            assert got == v, k
    # The file read back gives the same Dataset (the time and compression aside).
    back = epc.open_dump(out)
    try:
        xr.testing.assert_equal(back.drop_attrs(), ds.drop_attrs())
    finally:
        back.close()


def test_v1_arrays_follow_the_rnn_equations():
    """a_t = x_t + h_{t-1} W and h_t = relu(a_t) from the zero state (docs/CONTRACT.md), with W
    read from the ONNX file by the onnx package."""
    ds = epc.dump(DIGITS_MODEL, seed=1)
    w = next(numpy_helper.to_array(i) for i in onnx.load(DIGITS_MODEL).graph.initializer if i.name == "W")
    x, a, h = (ds[n].values.astype(np.float64) for n in ("input", "preact", "act"))
    prev = np.zeros_like(h[0])
    for t in range(ds.sizes["step"]):
        np.testing.assert_allclose(a[t], x[t] + prev @ w, atol=2e-5)
        np.testing.assert_allclose(h[t], np.maximum(a[t], 0), atol=1e-6)
        prev = h[t]
    # The frames are the test images named by `frames`, in class order along each sequence.
    assert ((ds.labels.values[:, 1:] - ds.labels.values[:, :-1]) % 10 == 1).all()
    assert ds.sizes == {"step": 10, "sequence": 400, "pixel": 64, "unit": 64}
    assert (ds.unit_pixel.values == np.arange(64)).all()


def test_layout_coordinates_of_a_step_v2_model():
    ds = epc.dump(TWO_LAYER, arrays=["preact", "drive_in", "drive_rec"])
    layout = json.loads(ds.attrs["layout_json"])
    assert [p["name"] for p in layout["populations"]] == ["l1", "l2"]
    assert list(ds.population.values[:64]) == ["l1"] * 64 and list(ds.population.values[64:]) == ["l2"] * 32
    assert (ds.unit_layer.values == np.r_[np.zeros(64), np.ones(32)]).all()
    assert (ds.unit_pixel.values[64:] == -1).all()
    # The model's drives add up to its preactivation (examples/pytorch/make_models.py).
    np.testing.assert_allclose(ds.drive_in + ds.drive_rec, ds.preact, atol=1e-5)
    l2 = ds.preact.where(ds.population == "l2", drop=True)
    assert l2.sizes["unit"] == 32


def test_open_dump_is_lazy_and_indexes_like_h5py(run_epc, tmp_path):
    out = tmp_path / "d.h5"
    run_epc("dump", "--model", DIGITS_MODEL, "--epochs", "3", "--out", out)
    ds = epc.open_dump(out)
    try:
        assert not isinstance(ds.act.variable._data, np.ndarray)  # not read yet
        part = ds.act.isel(step=2, sequence=slice(5, 9), unit=[3, 1, 7]).values
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(part, f["act"][2, 5:9][:, [3, 1, 7]])
            assert ds.sizes["sequence"] == f["act"].shape[1] == 3 * 33  # 33: the rarest test class
        assert json.loads(ds.attrs["sets_json"])[0]["epochs"] == 3
    finally:
        ds.close()
    eager = epc.open_dump(out, lazy=False)
    assert isinstance(eager.act.variable._data, np.ndarray)


def test_bad_dump_requests_raise():
    with pytest.raises(epc.ModelError) as err:
        epc.dump(DIGITS_MODEL, arrays=["drive_in"])
    assert "drive_in" in str(err.value)
    with pytest.raises(epc.InputError):
        epc.dump(DIGITS_MODEL, sequences="published", epochs=2)
    with pytest.raises(epc.InputError):
        epc.dump(DIGITS_MODEL, lesion="everything")
    with pytest.raises(epc.FileError):
        epc.dump(DIGITS_MODEL, sequences="no-such-file.csv")


def test_sequences_from_a_file(tmp_path):
    idx = np.array([[0, 1, 2, 3], [10, 11, 12, 13]])
    f = tmp_path / "s.csv"
    f.write_text("\n".join(",".join(map(str, r)) for r in idx) + "\n")
    ds = epc.dump(DIGITS_MODEL, sequences=f)
    assert ds.sizes["step"] == 4 and ds.sizes["sequence"] == 2
    np.testing.assert_array_equal(ds.frames.values, idx)
