"""`epc.analyze`: the analyses of `epc analyze`, as a dict and pandas DataFrames."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Iterable, Sequence, Union

import pandas as pd

from . import _epc
from ._errors import FileError

PathLike = Union[str, "os.PathLike[str]"]

#: The file that marks a folder as an epc report (an earlier output may be replaced whole).
_MARKER = "summary.json"


def _paths(models: PathLike | Iterable[PathLike]) -> list[str]:
    if isinstance(models, (str, os.PathLike)):
        models = [models]
    return [os.fspath(m) for m in models]


def _class_list(value) -> list[int]:
    """`2;6` -> [2, 6]; empty -> []."""
    if pd.isna(value) or value == "":
        return []
    return [int(v) for v in str(value).split(";")]


class Analysis:
    """One analysis: what `epc analyze` writes, read back.

    - ``summary``: summary.json as a dict (docs/reference/summary.md);
    - ``energy``: energy.csv, long form ``step, measure, model, value`` (references with model
      ``reference``);
    - ``units``: units.csv, ``model, unit, type, predicts, errors`` (the class lists as lists);
    - ``groups``: groups.csv, ``group, models, statistic, mean, lo, hi``;
    - ``lesions``: lesion.csv, ``step, lesion, measure, model, value``;
    - ``path``: the folder holding the report (``out``, or a private temporary folder that is
      removed with this object).
    """

    def __init__(self, folder: PathLike, summary: dict, temporary: bool = False):
        self.path = Path(folder)
        self.summary = summary
        self._temporary = temporary
        if temporary:
            self._cleanup = weakref.finalize(
                self, shutil.rmtree, str(self.path.parent), ignore_errors=True
            )
        self.energy = self._table("energy.csv")
        units = self._table("units.csv", dtype={"predicts": str, "errors": str})
        for col in ("predicts", "errors"):
            units[col] = units[col].map(_class_list)
        self.units = units
        self.groups = self._table("groups.csv")
        self.lesions = self._table("lesion.csv")

    def _table(self, name: str, **kw) -> pd.DataFrame:
        return pd.read_csv(self.path / name, keep_default_na=True, **kw)

    def table(self, name: str) -> pd.DataFrame:
        """Any other CSV table of the report by its file stem (``ci``, ``drive``,
        ``postsynaptic``, ``input_variance``, ``internal_drive``, ...)."""
        return self._table(name if name.endswith(".csv") else name + ".csv")

    def write(self, out: PathLike) -> Path:
        """Writes the report (summary.json, CSV tables, figures, report.md) to ``out`` as
        ``epc analyze --out`` does: ``out`` must be new, empty or an earlier report, which is
        replaced whole; the files appear together (copied beside it, then renamed)."""
        out = Path(out)
        if out.resolve() == self.path.resolve():
            return out
        if out.exists() and not out.is_dir():
            raise FileError(f"{out}: exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not (out / _MARKER).is_file():
            raise FileError(
                f"{out}: exists and is neither empty nor an earlier epc output; choose another out"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f".{out.name}.epc-tmp")
        old = out.with_name(f".{out.name}.epc-old")
        for p in (staged, old):
            if p.exists():
                shutil.rmtree(p)
        shutil.copytree(self.path, staged)
        if out.exists():
            os.rename(out, old)
        os.rename(staged, out)
        if old.exists():
            shutil.rmtree(old)
        return out

    def __repr__(self) -> str:
        models = [m["name"] for m in self.summary.get("models", [])]
        return f"<epc.Analysis of {len(models)} model(s) {models} on {self.summary.get('dataset')}>"


def analyze(
    models: PathLike | Sequence[PathLike],
    *,
    dataset: str | None = None,
    data_dir: PathLike | None = None,
    group_by: str | Sequence[str] | None = None,
    seed: int = 0,
    out: PathLike | None = None,
    figures: bool = True,
    bootstrap: int = 10_000,
    baselines: str | Sequence[str] | None = None,
    ci: str = "t",
    null_draws: int = 100,
    dose_draws: int = 10,
    null_sequences: int = 100,
    target: int = 0,
    sequence_sets: PathLike | None = None,
) -> Analysis:
    """Runs every analysis of `epc analyze` on ``models`` (ONNX files or run folders, whose
    ``seed-*/model.onnx`` are all taken) and returns an :class:`Analysis`.

    ``dataset`` defaults to the first model's ``epc.dataset`` (else ``digits``); ``group_by``
    is ``auto`` (default), ``none`` or keys (a list or a comma list); ``seed`` seeds the test
    sequences, the random lesions and the bootstrap. With ``out`` the report is written there
    (as ``--out``); without, into a temporary folder until :meth:`Analysis.write`.
    ``figures=False`` skips the figures (``--no-figures``). The other options are the command
    line's, with its defaults: ``baselines`` (``shuffled,untrained``; a list or a comma list, or
    ``none``), ``ci`` (``t``, ``hierarchical`` or ``published``), ``null_draws``,
    ``dose_draws`` and ``null_sequences`` (the matched lesion null and the dose-response grid),
    ``target`` (the digit of Fig 4B and 4C) and ``sequence_sets`` (a folder of image-index
    files that replace the drawn sets they are named after, as ``--sequence-sets``). Ctrl-C
    stops it cleanly (``KeyboardInterrupt``; nothing is left half-written).
    """
    paths = _epc.expand_models(_paths(models))
    if not isinstance(group_by, (str, type(None))):
        group_by = ",".join(group_by)
    if not isinstance(baselines, (str, type(None))):
        baselines = ",".join(baselines) or "none"
    temporary = out is None
    report = Path(tempfile.mkdtemp(prefix="epc-analysis-")) / "report" if temporary else Path(out)
    try:
        text = _epc.analyze(
            [os.fspath(p) for p in paths],
            os.fspath(report),
            dataset=dataset,
            data_dir=None if data_dir is None else os.fspath(data_dir),
            group_by=group_by,
            seed=seed,
            figures=figures,
            bootstrap=bootstrap,
            baselines=baselines,
            ci=ci,
            null_draws=null_draws,
            dose_draws=dose_draws,
            null_sequences=null_sequences,
            target=target,
            sequence_sets=None if sequence_sets is None else os.fspath(sequence_sets),
        )
    except BaseException:
        if temporary:
            shutil.rmtree(report.parent, ignore_errors=True)
        raise
    # The dict is summary.json itself (the text returned is the same serialisation).
    summary = json.loads((report / _MARKER).read_text()) if (report / _MARKER).is_file() else json.loads(text)
    return Analysis(report, summary, temporary=temporary)
