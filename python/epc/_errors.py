"""The exceptions of `epc`: each carries the command line's one-line message."""

from __future__ import annotations

from typing import Sequence


class Error(Exception):
    """Any failure epc reports (the base of the classes below)."""

    def __init__(self, message: str, violations: Sequence[str] = ()):
        super().__init__(message)
        self.message = message


class ModelError(Error):
    """A model file is not ONNX, cannot run, or breaks the step contract."""


class ContractError(ModelError):
    """A model breaks the step contract (docs/CONTRACT.md); `.violations` lists the lines of
    `epc check-model` (`PATH: problem`)."""

    def __init__(self, message: str, violations: Sequence[str] = ()):
        super().__init__(message, violations)
        self.violations = list(violations)


class DataError(Error):
    """Loading or sampling the data set failed (a missing or corrupt data folder, say)."""


class InputError(Error, ValueError):
    """Arguments that do not fit together (an unknown name, shapes, data set against model)."""


class FileError(Error, OSError):
    """Reading or writing a file or folder failed."""


__all__ = ["Error", "ModelError", "ContractError", "DataError", "InputError", "FileError"]
