"""epc.analyze: agreement with `epc analyze`, the DataFrames against independent numpy
computations, write(), the exceptions and Ctrl-C."""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
import _thread

import numpy as np
import pandas as pd
import pytest

import epc
from conftest import CONTRACT, DIGITS_MODEL, LSTM_ERR, TWO_LAYER, cli_error

# Fewer resamples keep the suite fast; the command gets the same number.
FAST = dict(bootstrap=200)


def _numbers(summary: dict) -> dict:
    """summary.json without what differs between two runs of the same analysis."""
    s = json.loads(json.dumps(summary))
    s.pop("elapsed_s", None)
    return s


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return epc.analyze(DIGITS_MODEL, seed=3, **FAST)


def test_summary_equals_the_command_line_on_the_same_model_and_seed(digits, run_epc, tmp_path):
    out = tmp_path / "cli"
    run_epc("analyze", "--model", DIGITS_MODEL, "--seed", 3, "--bootstrap", 200, "--out", out)
    cli = json.loads((out / "summary.json").read_text())
    assert _numbers(digits.summary) == _numbers(cli)
    assert digits.summary["seed"] == 3
    for name in ("energy", "units", "groups", "lesion"):
        ours = pd.read_csv(digits.path / f"{name}.csv")
        theirs = pd.read_csv(out / f"{name}.csv")
        pd.testing.assert_frame_equal(ours, theirs)


def test_energy_is_mean_abs_preact_of_the_dumped_test_set(digits):
    ds = epc.dump(DIGITS_MODEL, seed=3, arrays=["preact", "act"])
    pre = np.abs(ds.preact.values.astype(np.float64)).mean(axis=(1, 2))
    ap = np.abs(ds.act.values.astype(np.float64)).mean(axis=(1, 2))
    e = digits.energy
    mine = e[(e.model == "digits-l1pre")].pivot(index="step", columns="measure", values="value")
    np.testing.assert_allclose(mine["pre"].to_numpy(), pre, rtol=1e-5)
    np.testing.assert_allclose(mine["ap"].to_numpy(), ap, rtol=1e-5)
    assert pre[-1] < 0.6 * pre[0]  # the trained network predicts: energy falls over the sequence
    intact = digits.lesions[(digits.lesions.lesion == "intact") & (digits.lesions.measure == "pre")]
    np.testing.assert_allclose(intact.sort_values("step").value.to_numpy(), pre, rtol=1e-5)


def _lower_median(x, axis=0):
    s = np.sort(x, axis=axis)
    return np.take(s, (x.shape[axis] - 1) // 2, axis=axis)


def test_prediction_units_follow_the_published_rule_on_the_ordered_sets(digits):
    """|median| - 2.576 |MAD| > 0 on the last-step preact of the ordered set ending on the
    class (docs/SPEC.md section 6), recomputed with numpy from a dump."""
    ds = epc.dump(DIGITS_MODEL, seed=3, sequences="published", arrays=["preact"])
    sets = json.loads(ds.attrs["sets_json"])
    predicts = {u: [] for u in range(ds.sizes["unit"])}
    for c in range(10):
        k = next(i for i, s in enumerate(sets) if s["name"] == f"ordered-start-{(c + 1) % 10}")
        last = ds.preact.isel(step=-1).values[ds.sequence_set.values == k].astype(np.float64)
        assert (ds.labels.values[ds.sequence_set.values == k, -1] == c).all()
        med = _lower_median(last)
        centre = np.median(last, axis=0)
        mad = np.median(np.abs(last - centre), axis=0) / 0.6744897501960817
        for u in np.flatnonzero(np.abs(med) - 2.576 * np.abs(mad) > 0):
            predicts[int(u)].append(c)
    units = digits.units.set_index("unit")
    got = {int(u): list(units.loc[u, "predicts"]) for u in units.index}
    assert got == predicts
    n_pred = sum(1 for v in predicts.values() if v)
    assert n_pred == digits.summary["prediction_units"]["digits-l1pre"]["count"] > 0
    counts = digits.units.type.value_counts().to_dict()
    for t, n in digits.summary["unit_types"]["digits-l1pre"].items():
        assert counts.get(t, 0) == n


def test_groups_table_matches_the_summary(digits):
    g = digits.groups.set_index("statistic")
    s = digits.summary["groups"][0]
    assert s["name"] == "all" and set(digits.groups.group) == {"all"}
    assert g.loc["saving_vs_input", "mean"] == pytest.approx(s["saving_vs_input"]["mean"], rel=1e-12)
    pre = digits.summary["energy"]["pre"]["digits-l1pre"]
    ref = digits.summary["reference"]["input"]
    assert s["saving_vs_input"]["mean"] == pytest.approx(1 - pre[-1] / ref[-1], rel=1e-9)


def test_write_gives_the_files_of_out_and_refuses_a_foreign_folder(tmp_path):
    direct = epc.analyze(DIGITS_MODEL, out=tmp_path / "direct", **FAST)
    assert direct.path == tmp_path / "direct"
    assert (tmp_path / "direct" / "fig2a_energy.png").is_file()
    later = epc.analyze(DIGITS_MODEL, **FAST)
    copy = later.write(tmp_path / "copy")
    names = sorted(p.name for p in copy.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "direct").iterdir())
    assert "report.md" in names and "fig4a_lesion.svg" in names
    assert _numbers(json.loads((copy / "summary.json").read_text())) == _numbers(direct.summary)
    later.write(tmp_path / "copy")  # an earlier report is replaced whole
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(epc.FileError):
        later.write(foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    tmp = later.path.parent
    del later
    import gc

    gc.collect()
    assert not tmp.exists()  # the private folder goes with the object


def test_run_folders_and_groups(tmp_path):
    run = tmp_path / "run"
    for seed, model in ((0, TWO_LAYER), (1, LSTM_ERR)):
        (run / f"seed-{seed}").mkdir(parents=True)
        shutil.copy(model, run / f"seed-{seed}" / "model.onnx")
    a = epc.analyze(run, group_by="architecture", figures=False, baselines="none", **FAST)
    assert [m["name"] for m in a.summary["models"]] == ["seed-0", "seed-1"]
    assert sorted(a.groups.group.unique()) == sorted(g["name"] for g in a.summary["groups"])
    assert len(a.summary["groups"]) == 2
    assert a.summary["group_by"] == ["architecture"]
    assert not any(p.suffix == ".png" for p in a.path.iterdir())


def test_a_model_breaking_the_contract_raises_contract_error(run_epc, tmp_path):
    bad = CONTRACT / "gap.onnx"
    with pytest.raises(epc.ContractError) as err:
        epc.analyze(bad, out=tmp_path / "r")
    assert err.value.violations == epc.check_model(bad) != []
    done = run_epc("analyze", "--model", bad, "--out", tmp_path / "c", check=False)
    assert str(err.value) == cli_error(done)
    assert not (tmp_path / "r").exists()


def test_corrupt_onnx_and_missing_data_and_bad_names(tmp_path, run_epc):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(DIGITS_MODEL.read_bytes()[:200])
    with pytest.raises(epc.ModelError) as err:
        epc.analyze(corrupt)
    assert not isinstance(err.value, epc.ContractError)
    assert str(corrupt) in str(err.value)
    with pytest.raises(epc.DataError) as err:
        epc.analyze(DIGITS_MODEL, dataset="mnist", data_dir=tmp_path / "absent")
    done = run_epc("analyze", "--model", DIGITS_MODEL, "--dataset", "mnist", "--data-dir",
                   tmp_path / "absent", "--out", tmp_path / "o", check=False)
    assert str(err.value) == cli_error(done)
    with pytest.raises(epc.InputError):
        epc.analyze(DIGITS_MODEL, dataset="imagenet")
    with pytest.raises(ValueError) as err:  # InputError is a ValueError
        epc.analyze(DIGITS_MODEL, baselines="bogus")
    assert "unknown baseline" in str(err.value)


def test_the_command_lines_other_options_reach_the_analysis(tmp_path, run_epc):
    # A test set read from an index file (as --sequence-sets), the published intervals, a
    # smaller lesion null and another target digit: the same summary as the command line's,
    # and the energy that of the dump on exactly those image indices.
    sets = tmp_path / "sets"
    sets.mkdir()
    indices = np.random.default_rng(5).integers(0, 100, size=(40, 10)).astype(np.int64)
    np.save(sets / "test.npy", indices)
    options = dict(ci="published", null_draws=7, dose_draws=2, null_sequences=20, target=4)
    ours = epc.analyze(DIGITS_MODEL, seed=3, figures=False, sequence_sets=sets, **options, **FAST)
    flags = [x for k, v in options.items() for x in ("--" + k.replace("_", "-"), v)]
    run_epc("analyze", "--model", DIGITS_MODEL, "--seed", 3, "--no-figures", "--bootstrap", 200,
            "--sequence-sets", sets, *flags, "--out", tmp_path / "cli")
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert _numbers(ours.summary) == _numbers(cli)
    assert ours.summary["ci"] == "published" and ours.summary["target"] == 4
    test_set = next(s for s in ours.summary["sequence_sets"] if s["name"] == "test")
    assert test_set["sequences"] == 40 and test_set["file"].endswith("test.npy")
    default = epc.analyze(DIGITS_MODEL, seed=3, figures=False, **FAST)
    assert _numbers(default.summary) != _numbers(ours.summary)
    pre = np.abs(epc.dump(DIGITS_MODEL, sequences=sets / "test.npy", arrays=["preact"])
                 .preact.values.astype(np.float64)).mean(axis=(1, 2))
    e = ours.energy
    mine = e[(e.model == "digits-l1pre") & (e.measure == "pre")].sort_values("step")
    np.testing.assert_allclose(mine.value.to_numpy(), pre, rtol=1e-5)
    with pytest.raises(epc.InputError) as err:
        epc.analyze(DIGITS_MODEL, target=10)
    assert "target" in str(err.value)
    with pytest.raises(epc.InputError) as err:
        epc.analyze(DIGITS_MODEL, ci="wide")
    assert "interval method" in str(err.value)


def test_ctrl_c_stops_a_long_analysis_cleanly(tmp_path):
    out = tmp_path / "long"
    models = [DIGITS_MODEL] * 30  # about 3 s of work
    # A process started in the background by a non-interactive shell inherits SIGINT ignored,
    # and Python then installs no handler, so `interrupt_main` would do nothing: install
    # Python's own handler for the test, as an interactive session has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.5, _thread.interrupt_main)
        start = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            epc.analyze(models, out=out, figures=False)
        took = time.monotonic() - start
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert took < 3.0, took
    assert not out.exists()
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())
    # The flag is cleared: the next analysis runs.
    assert epc.analyze(DIGITS_MODEL, figures=False, **FAST).summary["models"][0]["n_units"] == 64
