# Type stubs of the native module `epc._epc` (python/src/). Arrays cross as
# (bytearray, shape, dtype) tuples; the pure-Python modules turn them into numpy arrays.
from os import PathLike
from typing import Any, Optional, Sequence, Tuple, Union

_Path = Union[str, PathLike[str]]
_Array = Tuple[bytearray, list[int], str]

def check_model(path: _Path) -> list[str]: ...
def expand_models(paths: Sequence[_Path]) -> list[str]: ...
def analyze(
    models: Sequence[_Path],
    out: _Path,
    *,
    dataset: Optional[str] = None,
    data_dir: Optional[_Path] = None,
    group_by: Optional[str] = None,
    seed: int = 0,
    figures: bool = True,
    bootstrap: int = 10000,
    baselines: Optional[str] = None,
    ci: str = "t",
    null_draws: int = 100,
    dose_draws: int = 10,
    null_sequences: int = 100,
    target: int = 0,
    sequence_sets: Optional[_Path] = None,
) -> str: ...
def dump(
    model: _Path,
    *,
    dataset: Optional[str] = None,
    data_dir: Optional[_Path] = None,
    sequences_name: str = "test",
    sequences_file: Optional[_Path] = None,
    arrays: Sequence[str] = ("input", "preact", "act"),
    lesion: str = "none",
    seed: int = 0,
    epochs: Optional[int] = None,
) -> dict[str, Any]: ...
def run_model(path: _Path, x: bytes, shape: Tuple[int, int, int]) -> dict[str, _Array]: ...
def toolkit_version() -> str: ...
