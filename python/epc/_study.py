"""`epc.load_study`: a study folder (`epc sweep`) as a DataFrame, one row per cell.

This reads the study folder's files directly (docs/reference/study-folder.md,
docs/reference/run-folder.md): ``plan.toml``, ``cells/NAME/seed-*/config.json`` and
``train_state.json``, the run folder's ``.epc-lock``, and ``report/summary.json``. It does not
call into the Rust study code, so it depends only on the on-disk layout; every file name it
knows is in this module.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from ._errors import FileError

PathLike = Union[str, "os.PathLike[str]"]

PLAN = "plan.toml"
CELLS = "cells"
REPORT = "report"
SUMMARY = "summary.json"
CONFIG = "config.json"
STATE = "train_state.json"
LOCK = ".epc-lock"
INSTANCE_PREFIX = "seed-"
STEP_MODEL = "model.onnx"


def _read_toml(path: Path) -> dict:
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.9/3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


def _flag_value(v: Any) -> str:
    """A plan value as `epc sweep` writes it into a cell name (Rust's formatting)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return np.format_float_positional(v, trim="-")
    if isinstance(v, list):
        return ",".join(_flag_value(x) for x in v)
    return str(v)


def _cells(plan: dict) -> list[tuple[str, dict]]:
    """The plan's cells (the Cartesian product of its axes, keys in sorted order): name and
    axis values."""
    grid = plan.get("grid") or {}
    axes = sorted(grid)
    out = []
    for combo in itertools.product(*(grid[a] for a in axes)):
        values = dict(zip(axes, combo))
        name = ",".join(
            f"{a}={_flag_value(v).replace('/', '_').replace(chr(92), '_')}"
            for a, v in values.items()
        )
        out.append((name or "all", values))
    return out


def _busy(run: Path) -> bool:
    """True while a trainer holds the run folder's lock (a shared flock would block)."""
    lock = run / LOCK
    if not lock.is_file():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    with open(lock, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


def _status(run: Path) -> tuple[str, str, int | None, int | None]:
    """(status, detail, least epochs trained, planned epochs), as `epc sweep status` says."""
    if not run.is_dir():
        return "waiting", "waiting", None, None
    if _busy(run):
        return "running", "running", None, None
    instances = sorted(p for p in run.iterdir() if p.is_dir() and p.name.startswith(INSTANCE_PREFIX))
    if not instances:
        return "waiting", "waiting", None, None
    least, planned = None, 0
    for inst in instances:
        cfg = json.loads((inst / CONFIG).read_text())
        of = int(cfg["train"]["epochs"])
        planned = max(planned, of)
        state_file = inst / STATE
        if not state_file.is_file():
            least = 0
            continue
        state = json.loads(state_file.read_text())
        stopped = state.get("stopped")
        if stopped and stopped.get("kind") == "non-finite":
            why = f"the loss was not finite at epoch {stopped.get('epoch')}"
            return "failed", f"failed: {why}", state.get("epochs_trained"), planned
        trained = int(state.get("epochs_trained", 0))
        if not (stopped or trained >= of):
            least = trained if least is None else min(least, trained)
    if least is None:
        return "done", "done", planned, planned
    return "interrupted", f"interrupted after {least}/{planned} epochs", least, planned


def _flatten(d: dict, prefix: str) -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _results(summary: dict, run: Path) -> dict:
    """A cell's analysis results: means over its analysed models, and its group's statistics."""
    root = run.resolve()

    def ours(m: dict) -> bool:
        # The model's file lies in the cell's folder (paths are as given to the analysis,
        # maybe relative to where it ran); or its name is the cell's (`CELL/seed-N`).
        p = Path(m["path"])
        return (p.is_absolute() and p.resolve().is_relative_to(root)) or m["name"].startswith(
            run.name + "/"
        )

    names = [m["name"] for m in summary.get("models", []) if ours(m)]
    if not names:
        return {}
    pre = summary.get("energy", {}).get("pre", {})
    out: dict[str, Any] = {"analysed_models": len(names)}
    curves = [pre[n] for n in names if n in pre]
    if curves:
        out["pre_first"] = float(np.mean([c[0] for c in curves]))
        out["pre_last"] = float(np.mean([c[-1] for c in curves]))
    for key, col in (("prediction_units", "prediction_units"), ("error_units", "error_units"),
                     ("error_units_matched", "error_units_matched")):
        table = summary.get(key) or {}
        counts = [table[n]["count"] for n in names if n in table]
        if counts:
            out[col] = float(np.mean(counts))
    for g in summary.get("groups", []):
        if sorted(g.get("models", [])) == sorted(names):
            out["group"] = g["name"]
            for stat in ("prediction_fraction", "error_fraction", "saving_vs_input",
                         "saving_vs_category_median", "lesion_effect"):
                v = g.get(stat)
                if isinstance(v, dict):
                    out[stat] = v.get("mean")
            break
    return out


def load_study(path: PathLike) -> pd.DataFrame:
    """One row per cell of the study folder ``path`` (written by `epc sweep`), in plan order:

    - ``cell`` (the folder name under ``cells/``) and one column per axis of the plan's grid
      (the plan's value);
    - ``status`` (``done``, ``running``, ``interrupted``, ``failed``, ``waiting``) with
      ``status_detail`` (the line `epc sweep status` prints), ``epochs_trained`` (the least
      advanced instance), ``epochs`` (planned), ``instances``, ``path``;
    - ``config.*``: the first instance's resolved config.json, flattened;
    - where the study was analysed (``report/summary.json``): ``analysed_models``,
      ``pre_first`` and ``pre_last`` (mean |preact| at the first and last step, mean over the
      cell's models), ``prediction_units``, ``error_units``, ``error_units_matched`` (mean
      counts) and the cell's group statistics (``group``, ``prediction_fraction``,
      ``error_fraction``, ``saving_vs_input``, ``saving_vs_category_median``,
      ``lesion_effect``: the means).
    """
    root = Path(path)
    plan_file = root / PLAN
    if not plan_file.is_file():
        raise FileError(f"{root}: not a study folder (no {PLAN}; see `epc sweep`)")
    plan = _read_toml(plan_file)
    cells = _cells(plan)
    known = {n for n, _ in cells}
    cells_dir = root / CELLS
    if cells_dir.is_dir():  # folders of an earlier plan's grid are listed too
        extra = sorted(p.name for p in cells_dir.iterdir() if p.is_dir() and p.name not in known)
        cells += [(n, {}) for n in extra]
    summary_file = root / REPORT / SUMMARY
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else None
    rows = []
    for name, values in cells:
        run = cells_dir / name
        status, detail, trained, planned = _status(run)
        instances = sorted(run.glob(f"{INSTANCE_PREFIX}*/{CONFIG}")) if run.is_dir() else []
        row: dict[str, Any] = {"cell": name, **values, "status": status,
                               "status_detail": detail, "epochs_trained": trained,
                               "epochs": planned, "instances": len(instances),
                               "path": str(run)}
        if instances:
            row.update(_flatten(json.loads(instances[0].read_text()), "config."))
        if summary is not None:
            row.update(_results(summary, run))
        rows.append(row)
    return pd.DataFrame(rows)
