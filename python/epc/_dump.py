"""`epc.dump` and `epc.open_dump`: activations as an `xarray.Dataset`.

Both give the same structure (the `epc-dump-v2` schema, docs/reference/dump-schema.md):

- data variables ``input`` (step, sequence, pixel) and ``preact``, ``act``, ``drive_in``,
  ``drive_rec``, ``transmission`` (step, sequence, unit), those asked for; ``positions``
  (sequence, step, axis) on moving streams; ``lesion_mask`` (state_entry) for lesioned runs;
- coordinates ``step`` (1..steps), ``sequence`` (0..n-1), ``unit``, ``pixel``; ``labels`` and
  ``frames`` (sequence, step); ``sequence_set`` (sequence); the unit layout ``unit_pixel``
  (-1: none), ``unit_layer``, ``unit_population`` (unit) and ``population`` (unit, its name);
- attributes: the file's attributes (``model_sha256``, ``dataset``, ``seed``, ``sets_json``,
  ``layout_json``, ...; ``json.loads`` reads the JSON ones); :func:`dump` adds ``notes`` (one
  per line) and ``lesioned_units``.
"""

from __future__ import annotations

import json
import os
from typing import Sequence, Union

import numpy as np
import xarray as xr
from xarray.core import indexing as _indexing

from . import _epc

PathLike = Union[str, "os.PathLike[str]"]

_ACTIVATIONS = ("input", "preact", "act", "drive_in", "drive_rec", "transmission")
_SEQUENCE_NAMES = ("test", "published", "deterministic")


def _np(t):
    """`(bytes, shape, dtype)` from the extension as a numpy array (no copy)."""
    if t is None:
        return None
    data, shape, dtype = t
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _dims(name: str) -> tuple[str, ...]:
    return ("step", "sequence", "pixel" if name == "input" else "unit")


def _build(arrays: dict, labels, frames, sequence_set, attrs: dict, positions=None, mask=None):
    """The Dataset of a dump from its parts (numpy arrays or lazy arrays)."""
    steps = labels.shape[1]
    n_seq = labels.shape[0]
    coords = {
        "step": ("step", np.arange(1, steps + 1)),
        "sequence": ("sequence", np.arange(n_seq)),
        "labels": (("sequence", "step"), np.asarray(labels)),
        "frames": (("sequence", "step"), np.asarray(frames)),
        "sequence_set": ("sequence", np.asarray(sequence_set)),
    }
    layout = json.loads(attrs["layout_json"]) if attrs.get("layout_json") else None
    unit_pixel = attrs.get("unit_pixel")
    if unit_pixel is not None and len(unit_pixel) > 0:
        n_units = len(unit_pixel)
        coords["unit"] = ("unit", np.arange(n_units))
        coords["unit_pixel"] = ("unit", np.asarray(unit_pixel, dtype=np.int32))
        coords["unit_layer"] = ("unit", np.asarray(attrs["unit_layer"], dtype=np.int32))
        pops = np.asarray(attrs["unit_population"], dtype=np.int32)
        coords["unit_population"] = ("unit", pops)
        if layout is not None:
            names = np.array([p["name"] for p in layout["populations"]], dtype=object)
            coords["population"] = ("unit", names[pops])
    data_vars = {}
    for name in _ACTIVATIONS:
        if name in arrays:
            data_vars[name] = xr.Variable(_dims(name), arrays[name])
    if "input" in arrays:
        coords["pixel"] = ("pixel", np.arange(arrays["input"].shape[2]))
    if positions is not None:
        data_vars["positions"] = xr.Variable(("sequence", "step", "axis"), positions)
        coords["axis"] = ("axis", np.array(["row", "column"]))
    if mask is not None:
        data_vars["lesion_mask"] = xr.Variable(("state_entry",), np.asarray(mask))
    # Attributes stay strings and numbers (as in the file), so the Dataset can be saved as is.
    out_attrs = {k: v for k, v in attrs.items() if not k.startswith("unit_")}
    return xr.Dataset(data_vars, coords=coords, attrs=out_attrs)


def dump(
    model: PathLike,
    *,
    dataset: str | None = None,
    data_dir: PathLike | None = None,
    sequences: str | PathLike = "test",
    arrays: Sequence[str] = ("input", "preact", "act"),
    lesion: str = "none",
    seed: int = 0,
    epochs: int | None = None,
) -> xr.Dataset:
    """What `epc dump` writes, computed in memory and returned as an `xarray.Dataset` (the
    structure of the module documentation).

    ``sequences``: ``test`` (the analysis test set of ``seed``; ``epochs`` draws exactly that
    many epochs), ``published`` (the per-class sets), ``deterministic``, or a path to a file of
    image indices (CSV, .npy or HDF5, as ``--sequences-file``). ``lesion``: ``none``,
    ``prediction`` or ``random``. ``arrays``: any of input, preact, act, drive_in, drive_rec,
    transmission."""
    if isinstance(arrays, str):
        arrays = [a.strip() for a in arrays.split(",") if a.strip()]
    is_name = isinstance(sequences, str) and sequences in _SEQUENCE_NAMES
    got = _epc.dump(
        os.fspath(model),
        dataset=dataset,
        data_dir=None if data_dir is None else os.fspath(data_dir),
        sequences_name=sequences if is_name else "test",
        sequences_file=None if is_name else os.fspath(sequences),
        arrays=list(arrays),
        lesion=lesion,
        seed=seed,
        epochs=epochs,
    )
    acts = {k: _np(v) for k, v in got["arrays"].items()}
    attrs = dict(got["attrs"])
    attrs["notes"] = "\n".join(got["notes"])
    attrs["lesioned_units"] = np.asarray(got["lesioned"], dtype=np.int64)
    return _build(
        acts,
        _np(got["labels"]),
        _np(got["frames"]),
        _np(got["sequence_set"]),
        attrs,
        positions=_np(got["positions"]),
        mask=_np(got["lesion_mask"]),
    )


class _H5Array(xr.backends.BackendArray):
    """An HDF5 dataset read on indexing (so a large dump is not read whole)."""

    def __init__(self, dataset):
        self._ds = dataset
        self.shape = dataset.shape
        self.dtype = dataset.dtype

    def __getitem__(self, key):
        return _indexing.explicit_indexing_adapter(
            key, self.shape, _indexing.IndexingSupport.BASIC, self._read
        )

    def __deepcopy__(self, memo):
        # A read-only window on the file: copies share it (h5py objects cannot be copied).
        return self

    def _read(self, key):
        # Integers and slices only (BASIC): h5py reads just that block; xarray does the rest.
        return np.asarray(self._ds[key])


def open_dump(path: PathLike, *, lazy: bool = True) -> xr.Dataset:
    """Reads an HDF5 dump written by `epc dump` into the structure of :func:`dump`. With
    ``lazy`` (default) the activation arrays are read from the file when indexed or loaded
    (``ds.load()``); the file stays open until ``ds.close()``."""
    import h5py

    f = h5py.File(os.fspath(path), "r")
    try:
        attrs = {}
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, np.integer):
                v = int(v)
            attrs[k] = v
        acts = {}
        for name in _ACTIVATIONS:
            if name in f:
                arr = _H5Array(f[name])
                acts[name] = _indexing.LazilyIndexedArray(arr) if lazy else f[name][()]
        ds = _build(
            acts,
            f["labels"][()],
            f["frames"][()],
            f["sequence_set"][()],
            attrs,
            positions=f["positions"][()] if "positions" in f else None,
            mask=f["lesion_mask"][()] if "lesion_mask" in f else None,
        )
    except BaseException:
        f.close()
        raise
    if lazy:
        ds.set_close(f.close)
    else:
        f.close()
    return ds
