"""`epc.torch.export_step`: a PyTorch step module as a step-v2 model (docs/CONTRACT.md).

torch and onnx are imported when :func:`export_step` is called, not with `epc`.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np

from . import _epc
from ._errors import ContractError, InputError, ModelError

PathLike = Union[str, "os.PathLike[str]"]

#: The optional outputs of step-v2, in the order `forward` returns them after `act`.
OPTIONAL_OUTPUTS = ("drive_in", "drive_rec", "transmission")


@dataclass
class Exported:
    """What :func:`export_step` wrote and checked (usable as a path: ``os.fspath(e)``)."""

    path: Path
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    #: The largest |ONNX Runtime - PyTorch| over every output and step of the check.
    max_abs_diff: float = 0.0

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def _run_torch(module, frames: np.ndarray, sizes: Sequence[int], names: Sequence[str]):
    """The module stepped over ``frames`` [steps, batch, n_in] from zero states: each
    non-state output stacked to [steps, batch, width]."""
    import torch

    batch = frames.shape[1]
    states = [torch.zeros(batch, s) for s in sizes]
    got: dict[str, list] = {n: [] for n in names}
    with torch.no_grad():
        for t in range(frames.shape[0]):
            outs = module(torch.from_numpy(frames[t]), *states)
            states = list(outs[: len(sizes)])
            for n, o in zip(names, outs[len(sizes):]):
                got[n].append(o.detach().cpu().numpy())
    return {n: np.stack(v) for n, v in got.items()}


def export_step(
    module,
    *,
    n_in: int,
    states: Mapping[str, int],
    populations: Sequence[Mapping[str, Any]],
    energy: Sequence[str] | None = None,
    path: PathLike,
    optional: Sequence[str] | None = None,
    metadata: Mapping[str, str] | None = None,
    opset: int = 17,
    check_steps: int = 10,
    check_batch: int = 4,
    atol: float = 1e-4,
    seed: int = 0,
) -> Exported:
    """Exports ``module`` as a step-v2 model at ``path`` and checks it.

    ``module.forward(x, *states)`` takes the frame ``x`` [batch, n_in] and one tensor per state
    (in the order of ``states``, a dict name -> size) and returns the next states (same
    order), then ``preact`` and ``act`` [batch, n_units], then optionally ``drive_in``,
    ``drive_rec``, ``transmission`` (``optional`` names which, in that order; by default the
    first ones of that list, as many as are returned). ``populations`` is the contract's list
    (``name``, ``units``, ``layer``, optional ``pixels`` and ``state``); ``energy`` the
    headline populations. ``metadata`` adds ``epc.*`` keys (``epc.dataset``, ``epc.loss``,
    ``epc.config``, ...).

    The ports are named, the batch is made symbolic, the metadata written; then ONNX Runtime
    (the engine epc analyses with) runs the file over ``check_steps`` random frames of
    ``check_batch`` sequences from the zero state against the module (|difference| <= ``atol``
    on every output, else :class:`ModelError`), and :func:`epc.check_model` must pass (else
    :class:`ContractError` with the violations).
    """
    import onnx
    import torch

    names = list(states)
    sizes = [int(states[n]) for n in names]
    for n in names:
        if n in ("x", "preact", "act") + OPTIONAL_OUTPUTS:
            raise InputError(f"state name {n!r} collides with a port of the contract")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            probe = module(torch.zeros(2, n_in), *[torch.zeros(2, s) for s in sizes])
        if not isinstance(probe, (tuple, list)):
            raise InputError("forward must return a tuple: next states, preact, act[, optional]")
        extra = len(probe) - len(names) - 2
        if optional is None:
            if not 0 <= extra <= len(OPTIONAL_OUTPUTS):
                raise InputError(
                    f"forward returns {len(probe)} tensors; expected {len(names)} next states, "
                    f"preact, act and up to 3 optional outputs"
                )
            optional = OPTIONAL_OUTPUTS[:extra]
        optional = list(optional)
        if extra != len(optional) or any(o not in OPTIONAL_OUTPUTS for o in optional):
            raise InputError(f"forward returns {extra} optional outputs; optional={optional}")
        inputs = ["x", *names]
        outputs = [f"{n}_next" for n in names] + ["preact", "act", *optional]
        example = tuple([torch.zeros(2, n_in)] + [torch.zeros(2, s) for s in sizes])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                example,
                os.fspath(path),
                dynamo=False,
                opset_version=opset,
                input_names=inputs,
                output_names=outputs,
                dynamic_axes={n: {0: "batch"} for n in inputs + outputs},
            )
        model = onnx.load(os.fspath(path))
        meta = {
            "epc.contract": "step-v2",
            "epc.states": json.dumps([{"name": n, "size": s} for n, s in zip(names, sizes)]),
            "epc.populations": json.dumps([dict(p) for p in populations]),
        }
        if energy is not None:
            meta["epc.energy"] = json.dumps(list(energy))
        meta.update({k: str(v) for k, v in (metadata or {}).items()})
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, meta)
        onnx.save(model, os.fspath(path))

        violations = _epc.check_model(os.fspath(path))
        if violations:
            raise ContractError(
                f"{path}: the exported model breaks the step contract ({len(violations)} violations)",
                violations,
            )
        rng = np.random.default_rng(seed)
        frames = rng.random((check_steps, check_batch, n_in), dtype=np.float32)
        ours = _epc.run_model(os.fspath(path), frames.tobytes(), frames.shape)
        ref = _run_torch(module, frames, sizes, ["preact", "act", *optional])
        worst = 0.0
        for name, want in ref.items():
            data, shape, dtype = ours[name]
            got = np.frombuffer(data, dtype=dtype).reshape(shape)
            if got.shape != want.shape:
                raise ModelError(f"{path}: output {name} has shape {got.shape} in ONNX Runtime, {want.shape} in PyTorch")
            diff = float(np.max(np.abs(got - want))) if got.size else 0.0
            if not diff <= atol:
                step = int(np.argmax(np.abs(got - want).reshape(shape[0], -1).max(axis=1))) + 1
                raise ModelError(
                    f"{path}: ONNX Runtime and PyTorch differ on {name} by {diff:.3g} "
                    f"(step {step}; tolerance {atol:g})"
                )
            worst = max(worst, diff)
    finally:
        module.train(was_training)
    return Exported(path=path, inputs=inputs, outputs=outputs, max_abs_diff=worst)
