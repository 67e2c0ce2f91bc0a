"""epc.torch.export_step: a GRU with an error population, written in a few lines of PyTorch,
exported, checked, dumped and analysed."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import epc  # noqa: E402
import epc.torch  # noqa: E402


class GruErr(nn.Module):
    """Error units e_t = x_t - W h_{t-1} (one per pixel) drive a GRU cell."""

    def __init__(self, n_in=64, hidden=16):
        super().__init__()
        self.pred = nn.Linear(hidden, n_in, bias=False)
        self.cell = nn.GRUCell(n_in, hidden)

    def forward(self, x, h):
        e = x - self.pred(h)
        h_next = self.cell(e, h)
        units = torch.cat([e, h_next], dim=1)
        return h_next, units, units.abs()


POPULATIONS = [
    {"name": "error", "units": [0, 64], "layer": 0, "pixels": [0, 64]},
    {"name": "gru", "units": [64, 80], "layer": 1, "state": {"h": [0, 16]}},
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    module = GruErr()
    path = tmp_path_factory.mktemp("byo") / "gru_err.onnx"
    out = epc.torch.export_step(
        module, n_in=64, states={"h": 16}, populations=POPULATIONS, energy=["error"],
        path=path, metadata={"epc.dataset": "digits", "epc.architecture": "gru-err"},
    )
    return module, out


def test_export_writes_a_valid_step_v2_model(exported):
    module, out = exported
    assert out.inputs == ["x", "h"]
    assert out.outputs == ["h_next", "preact", "act"]
    assert 0 <= out.max_abs_diff < 1e-5
    assert epc.check_model(out) == []
    assert module.training  # the module's mode is restored


def test_the_exported_model_runs_as_the_module_on_the_test_set(exported):
    module, out = exported
    ds = epc.dump(out, arrays=["input", "preact", "act"])
    x = torch.from_numpy(ds.input.values)
    h = torch.zeros(x.shape[1], 16)
    module.eval()
    with torch.no_grad():
        for t in range(x.shape[0]):
            h, pre, act = module(x[t], h)
            np.testing.assert_allclose(ds.preact.values[t], pre.numpy(), atol=1e-5)
            np.testing.assert_allclose(ds.act.values[t], act.numpy(), atol=1e-5)
    module.train()


def test_the_exported_model_is_analysed_with_its_populations(exported):
    _, out = exported
    a = epc.analyze(out, figures=False, bootstrap=200)
    m = a.summary["models"][0]
    assert (m["n_in"], m["n_units"]) == (64, 80)
    ds = epc.dump(out, arrays=["preact"])
    headline = np.abs(ds.preact.values[:, :, :64].astype(np.float64)).mean(axis=(1, 2))
    pre = a.energy[(a.energy.model == m["name"]) & (a.energy.measure == "pre")]
    np.testing.assert_allclose(pre.sort_values("step").value.to_numpy(), headline, rtol=1e-5)
    pops = a.summary["populations"][m["name"]]["populations"]
    assert [p["name"] for p in pops] == ["error", "gru"]
    assert [p["lesionable"] for p in pops] == [False, True]


def test_a_layout_that_breaks_the_contract_raises_contract_error(tmp_path):
    bad = [dict(POPULATIONS[0]), {"name": "gru", "units": [64, 79], "layer": 1}]
    with pytest.raises(epc.ContractError) as err:
        epc.torch.export_step(GruErr(), n_in=64, states={"h": 16}, populations=bad,
                              path=tmp_path / "bad.onnx")
    assert err.value.violations
    assert all(v.startswith(str(tmp_path / "bad.onnx")) for v in err.value.violations)
    assert err.value.violations == epc.check_model(tmp_path / "bad.onnx")


def test_wrong_outputs_are_refused(tmp_path):
    class TooMany(GruErr):
        def forward(self, x, h):
            out = super().forward(x, h)
            return (*out, out[1], out[1], out[1], out[1])

    with pytest.raises(epc.InputError):
        epc.torch.export_step(TooMany(), n_in=64, states={"h": 16}, populations=POPULATIONS,
                              path=tmp_path / "m.onnx")
    with pytest.raises(epc.InputError):
        epc.torch.export_step(GruErr(), n_in=64, states={"x": 16}, populations=POPULATIONS,
                              path=tmp_path / "m.onnx")
