"""Packaging and the foundation's command line: import hygiene, info, export, audit, errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from kvid.cli import main


def _run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("module", ["kvid", "kvid.runtime", "kvid.export.audit", "kvid.cli"])
def test_light_imports_do_not_import_tensorflow(module):
    code = (
        f"import sys, {module}\n"
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_models_lists_presets(capsys):
    code, out, _ = _run_cli(capsys, "models", "--json")
    assert code == 0
    names = {row["name"] for row in json.loads(out)}
    assert "opscheck" in names


def test_info_json_counts_params_and_macs(capsys):
    code, out, _ = _run_cli(capsys, "info", "opscheck", "--frames", "8", "--size", "32", "--json")
    assert code == 0
    info = json.loads(out)
    assert set(info) >= {"params", "gmacs", "blocks"}
    assert info["params"] == sum(b["params"] for b in info["blocks"]) > 0
    # the stem: 1x3x3 conv, 3 -> 8 channels, stride 2, 8 frames of 32x32 -> 16x16 outputs
    stem = next(b for b in info["blocks"] if b["name"] == "stem")
    assert stem["macs"] == 8 * 16 * 16 * 8 * (3 * 3 * 3)


@pytest.mark.e2e
def test_export_and_audit_opscheck_int8(tmp_path, capsys):
    out = tmp_path / "ops.tflite"
    code, text, _ = _run_cli(capsys, "export", "--model", "opscheck", "--frames", "8", "--size", "32",
                             "--to", "int8", "--out", str(out), "--json")
    assert code == 0, text
    result = json.loads(text)
    assert result["audit"]["ok"] and out.exists()
    assert result["audit"]["gpu"]["ok"] and result["kernels"]["ok"], (result["audit"]["gpu"], result["kernels"])
    code, text, _ = _run_cli(capsys, "audit", str(out), "--json")
    assert code == 0
    report = json.loads(text)
    assert report["ok"] and report["max_rank"] <= 4 and not report["float_ops"]
    assert set(report) >= {"ok", "ops", "float_ops", "flex_ops", "max_rank"}
    assert "CONV_2D" in report["ops"]


def test_audit_flags_float_compute_in_int8_model(tmp_path, capsys):
    out = tmp_path / "f32.tflite"
    assert _run_cli(capsys, "export", "--model", "opscheck", "--to", "float32", "--out", str(out))[0] == 0
    code, text, _ = _run_cli(capsys, "audit", str(out), "--json")
    assert code == 0 and json.loads(text)["expect"] == "float"
    code, text, _ = _run_cli(capsys, "audit", str(out), "--expect", "int8", "--json")
    report = json.loads(text)
    assert code == 1 and not report["ok"] and report["float_ops"]


def test_bad_input_is_one_line_error(tmp_path, capsys):
    code, _, err = _run_cli(capsys, "audit", str(tmp_path / "missing.tflite"))
    assert code == 2 and err.strip().count("\n") == 0 and "no such file" in err
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    code, _, err = _run_cli(capsys, "audit", str(junk))
    assert code == 2 and "not a TFLite model" in err and "Traceback" not in err
    code, _, err = _run_cli(capsys, "info", "no_such_model")
    assert code == 2 and "unknown preset" in err
    code, _, err = _run_cli(capsys, "info", "opscheck", "--frames", "6")
    assert code == 2 and "divisible by 4" in err
    code, _, err = _run_cli(capsys, "info", "opscheck", "--set", "depth=3")
    assert code == 2 and "unknown option 'depth'" in err


def test_runtime_quantizes_raw_pixels_exactly(tmp_path):
    from kvid.export.preset import export_preset
    from kvid.runtime import ClipModel

    path = tmp_path / "m.tflite"
    export_preset("opscheck", path, frames=4, size=16, overrides={"width": 4}, parity_clips=0)
    model = ClipModel(path)
    clip = np.arange(4 * 16 * 16 * 3, dtype=np.float32).reshape(4, 16, 16, 3) % 256
    q = model.quantize_input(clip)
    assert q.dtype == np.int8
    np.testing.assert_array_equal(q.astype(np.int16), clip.astype(np.int16) - 128)
    with pytest.raises(Exception, match="does not match the model input"):
        model.quantize_input(clip[:2])
