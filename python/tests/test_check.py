"""epc.check_model against `epc check-model`, and its exceptions."""

import json

import pytest

import epc
from conftest import CONTRACT, DIGITS_MODEL, LSTM_ERR, TWO_LAYER


def test_valid_models_give_no_lines():
    for m in (DIGITS_MODEL, TWO_LAYER, LSTM_ERR, CONTRACT / "valid.onnx", CONTRACT / "v1_valid.onnx"):
        assert epc.check_model(m) == [], m


def test_each_violating_fixture_gives_the_command_lines(run_epc):
    manifest = json.loads((CONTRACT / "MANIFEST.json").read_text())
    broken = 0
    for e in manifest["fixtures"]:
        path = CONTRACT / e["file"]
        try:
            lines = epc.check_model(path)
        except epc.ModelError as err:  # not readable as a step model at all: one line
            lines = [str(err)]
        done = run_epc("check-model", path, check=False)
        if e["valid"]:
            assert lines == [] and done.returncode == 0, path
            continue
        broken += 1
        assert done.returncode == 1
        assert lines == done.stdout.splitlines(), path
        assert lines and all(l.startswith(f"{path}: ") for l in lines)
    assert broken >= 15


def test_a_corrupt_file_raises_model_error_with_the_command_line(tmp_path, run_epc):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(epc.ModelError) as err:
        epc.check_model(bad)
    assert not isinstance(err.value, epc.ContractError)
    done = run_epc("check-model", bad, check=False)
    assert str(err.value) == done.stdout.splitlines()[0]


def test_a_missing_file_raises_file_error(tmp_path):
    with pytest.raises(epc.FileError) as err:
        epc.check_model(tmp_path / "nothing.onnx")
    assert isinstance(err.value, OSError)
    assert "nothing.onnx" in str(err.value)
