# Type stubs of `epc` (the public API; docs/guide/python.md).
from os import PathLike
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import pandas as pd
import xarray as xr

from ._errors import (
    ContractError as ContractError,
    DataError as DataError,
    Error as Error,
    FileError as FileError,
    InputError as InputError,
    ModelError as ModelError,
)

_Path = Union[str, PathLike[str]]

__version__: str

class Analysis:
    path: Path
    summary: dict[str, Any]
    energy: pd.DataFrame
    units: pd.DataFrame
    groups: pd.DataFrame
    lesions: pd.DataFrame
    def table(self, name: str) -> pd.DataFrame: ...
    def write(self, out: _Path) -> Path: ...

def check_model(path: _Path) -> list[str]: ...
def analyze(
    models: Union[_Path, Sequence[_Path]],
    *,
    dataset: Optional[str] = None,
    data_dir: Optional[_Path] = None,
    group_by: Union[str, Sequence[str], None] = None,
    seed: int = 0,
    out: Optional[_Path] = None,
    figures: bool = True,
    bootstrap: int = 10000,
    baselines: Union[str, Sequence[str], None] = None,
    ci: str = "t",
    null_draws: int = 100,
    dose_draws: int = 10,
    null_sequences: int = 100,
    target: int = 0,
    sequence_sets: Optional[_Path] = None,
) -> Analysis: ...
def dump(
    model: _Path,
    *,
    dataset: Optional[str] = None,
    data_dir: Optional[_Path] = None,
    sequences: Union[str, _Path] = "test",
    arrays: Sequence[str] = ("input", "preact", "act"),
    lesion: str = "none",
    seed: int = 0,
    epochs: Optional[int] = None,
) -> xr.Dataset: ...
def open_dump(path: _Path, *, lazy: bool = True) -> xr.Dataset: ...
def load_study(path: _Path) -> pd.DataFrame: ...
