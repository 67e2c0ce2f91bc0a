"""epc.load_study on a real study (`epc sweep` on the embedded digits, seconds), against
`epc sweep status` and against epc.analyze of each cell's model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import epc
from conftest import REPO

PLAN = f"""\
config = "{REPO / 'configs' / 'digits-demo.toml'}"
seeds = [0, 1]
[grid]
loss = ["l1-pre", "l1-post"]
lr = [0.001, 0.0001]
[set]
epochs = 3
[analyze]
args = ["--no-figures", "--bootstrap", "200"]
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory, epc_bin):
    import subprocess

    root = tmp_path_factory.mktemp("study")
    (root / "plan.toml").write_text(PLAN)
    subprocess.run([str(epc_bin), "sweep", str(root / "plan.toml"), "--out", str(root / "s")],
                   check=True, capture_output=True)
    return root / "s"


def _cli_status(run_epc, study) -> dict:
    out = run_epc("sweep", "status", study, check=False).stdout
    return dict(l.split("\t", 1) for l in out.splitlines() if "\t" in l)


def test_one_row_per_cell_with_axes_config_status_and_results(study, run_epc):
    df = epc.load_study(study)
    assert list(df.cell) == list(_cli_status(run_epc, study))  # the plan's order
    assert len(df) == 4
    assert sorted(zip(df.loss, df.lr)) == sorted(
        [(l, r) for l in ("l1-pre", "l1-post") for r in (0.001, 0.0001)]
    )
    assert (df.status == "done").all() and (df.instances == 2).all()
    assert (df.epochs == 3).all() and (df["config.train.epochs"] == 3).all()
    assert (df["config.train.loss"] == df.loss).all()
    np.testing.assert_allclose(df["config.optim.lr"], df.lr)
    assert (df.analysed_models == 2).all()
    summary = json.loads((study / "report" / "summary.json").read_text())
    groups = {g["name"]: g for g in summary["groups"]}
    for _, row in df.iterrows():
        # The cell's numbers are those of its models analysed on their own.
        models = sorted((study / "cells" / row.cell).glob("seed-*/model.onnx"))
        alone = epc.analyze(models, figures=False, bootstrap=200, baselines="none")
        pre = alone.summary["energy"]["pre"]
        assert row.pre_last == pytest.approx(np.mean([c[-1] for c in pre.values()]), rel=1e-9)
        assert row.pre_first == pytest.approx(np.mean([c[0] for c in pre.values()]), rel=1e-9)
        counts = [v["count"] for v in alone.summary["prediction_units"].values()]
        assert row.prediction_units == pytest.approx(np.mean(counts))
        assert row.saving_vs_input == groups[row.group]["saving_vs_input"]["mean"]


def test_status_follows_the_folder_as_the_command_says(study, run_epc, tmp_path):
    copy = tmp_path / "s"
    shutil.copytree(study, copy)
    cells = copy / "cells"
    shutil.rmtree(cells / "loss=l1-pre,lr=0.001")
    state = cells / "loss=l1-post,lr=0.001" / "seed-1" / "train_state.json"
    s = json.loads(state.read_text())
    s["epochs_trained"] = 1
    state.write_text(json.dumps(s))
    state = cells / "loss=l1-post,lr=0.0001" / "seed-0" / "train_state.json"
    s = json.loads(state.read_text())
    s["stopped"] = {"kind": "non-finite", "epoch": 2, "train_loss": "NaN", "val_loss": "NaN"}
    state.write_text(json.dumps(s))
    shutil.rmtree(copy / "report")
    df = epc.load_study(copy).set_index("cell")
    cli = _cli_status(run_epc, copy)
    assert dict(df.status_detail) == cli
    assert df.loc["loss=l1-pre,lr=0.001", "status"] == "waiting"
    assert df.loc["loss=l1-post,lr=0.001", "status"] == "interrupted"
    assert df.loc["loss=l1-post,lr=0.001", "epochs_trained"] == 1
    assert df.loc["loss=l1-post,lr=0.0001", "status"] == "failed"
    assert "pre_last" not in df.columns  # not analysed


def test_not_a_study_folder(tmp_path):
    with pytest.raises(epc.FileError):
        epc.load_study(tmp_path)
