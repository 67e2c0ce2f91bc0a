"""Shared fixtures: the repository's test models and the `epc` command line to agree with."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIGITS_MODEL = REPO / "testdata" / "models" / "digits-l1pre.onnx"
CONTRACT = REPO / "testdata" / "contract-v2"
TWO_LAYER = REPO / "examples" / "pytorch" / "two_layer.onnx"
LSTM_ERR = REPO / "examples" / "pytorch" / "lstm_err.onnx"


def _find_epc() -> Path | None:
    given = os.environ.get("EPC_BIN")
    if given:
        return Path(given)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for p in (target / "release" / "epc", REPO / "target" / "release" / "epc"):
        if p.is_file():
            return p
    found = shutil.which("epc")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def epc_bin() -> Path:
    """The `epc` binary (EPC_BIN, else CARGO_TARGET_DIR/release/epc): the tests compare the
    package with it. scripts/test_python.sh builds it first."""
    p = _find_epc()
    if p is None or not p.is_file():
        pytest.fail("no epc binary: run `cargo build --release --bin epc` or set EPC_BIN")
    return p


@pytest.fixture(scope="session")
def run_epc(epc_bin):
    """Runs `epc ARGS...`; returns the CompletedProcess (text)."""

    def run(*args, check=True):
        done = subprocess.run([str(epc_bin), *map(str, args)], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"epc {' '.join(map(str, args))} failed:\n{done.stderr}")
        return done

    return run


def cli_error(done) -> str:
    """The one-line message of a failed command (`epc: error: MESSAGE`)."""
    lines = [l for l in done.stderr.splitlines() if l.startswith("epc: error: ")]
    assert lines, done.stderr
    return lines[-1][len("epc: error: "):]
