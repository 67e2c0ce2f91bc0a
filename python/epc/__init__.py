"""`import epc`: the epc analyzer from Python (analysis only; training stays `epc train`).

- :func:`check_model` -- does an ONNX file follow the step contract?
- :func:`analyze` -- the analyses of `epc analyze`, as an :class:`Analysis` (dict + DataFrames);
- :func:`dump` / :func:`open_dump` -- activations as an `xarray.Dataset`;
- :func:`load_study` -- a study folder (`epc sweep`) as a DataFrame;
- :mod:`epc.torch` -- export a PyTorch step module as a step-v2 model.

ONNX Runtime comes from the `onnxruntime` wheel this package depends on: at import, unless
`ORT_DYLIB_PATH` is already set, it is pointed at the wheel's shared library, so the process
loads one copy of ONNX Runtime. Guide: docs/guide/python.md.
"""

from __future__ import annotations

import glob as _glob
import importlib.util as _util
import os as _os


def _onnxruntime_library() -> str | None:
    """The shared library inside the installed `onnxruntime` (or `onnxruntime-gpu`) wheel."""
    spec = _util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        capi = _os.path.join(root, "capi")
        for pattern in ("libonnxruntime.so*", "libonnxruntime*.dylib", "onnxruntime.dll"):
            found = sorted(_glob.glob(_os.path.join(capi, pattern)), key=len, reverse=True)
            if found:
                return found[0]
    return None


if not _os.environ.get("ORT_DYLIB_PATH"):
    _lib = _onnxruntime_library()
    if _lib is not None:
        _os.environ["ORT_DYLIB_PATH"] = _lib

from . import _epc  # noqa: E402
from ._analysis import Analysis, analyze  # noqa: E402
from ._dump import dump, open_dump  # noqa: E402
from ._errors import ContractError, DataError, Error, FileError, InputError, ModelError  # noqa: E402
from ._study import load_study  # noqa: E402

__version__ = _epc.toolkit_version()


def check_model(path: str | _os.PathLike) -> list[str]:
    """The lines `epc check-model PATH` prints for a model that breaks the step contract
    (`PATH: problem`, docs/CONTRACT.md); empty when it follows step-v1 or step-v2.

    Raises :class:`ModelError` for a file that is not ONNX at all, :class:`FileError` for one
    that cannot be read."""
    return _epc.check_model(_os.fspath(path))


__all__ = [
    "Analysis",
    "ContractError",
    "DataError",
    "Error",
    "FileError",
    "InputError",
    "ModelError",
    "analyze",
    "check_model",
    "dump",
    "load_study",
    "open_dump",
]
