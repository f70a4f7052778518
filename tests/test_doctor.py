"""``kvid doctor``: the facts a bug report needs, every self-check passing on this machine's
kernel family (CI runs the suite with oneDNN off and again with it on), and a failing part
named with a non-zero exit."""

import json
import os
import subprocess
import sys

import numpy as np


def test_doctor_reports_the_machine_and_passes_its_checks():
    proc = subprocess.run([sys.executable, "-m", "kvid.cli", "doctor", "--json"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    failed = [row for row in report["checks"] if row["status"] != "ok"]
    assert report["ok"] and not failed, failed
    assert len(report["checks"]) == 5
    for key in ("kvid", "python", "tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert"):
        assert key in report["versions"]
    assert report["onednn"] in ("on", "off") and report["tensorflow_usable"]
    want = "on" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1" else None
    assert want is None or report["onednn"] == want  # TensorFlow's own answer, not the rule
    assert report["cpu"]["arch"] and report["cpu"]["cores"] >= 1 and report["cpu"]["int8_dot"]
    assert report["xnnpack"] is True  # ai-edge-litert on x86/ARM ships it
    assert report["threads"]["cores"] >= 1 and report["threads"]["tflite"] == 2
    assert (report["int8_warning"] is None) == (report["cpu"]["int8_dot"] != "none")


def test_a_failing_part_is_named_and_the_exit_is_non_zero(monkeypatch, capsys):
    """The runtime check against integer arithmetic, with a wrong reference (the kernel of
    another model): the check fails, the doctor says which one, exit 1."""
    from kvid import doctor
    from kvid.cli import main
    from kvid.runtime import selfcheck

    true_conv = selfcheck.integer_conv

    def other_kernel(q_input, params):
        return true_conv(q_input, {**params, "kernel": np.ascontiguousarray(params["kernel"][::-1])})

    monkeypatch.setattr(selfcheck, "integer_conv", other_kernel)
    monkeypatch.setattr(doctor, "CHECKS", doctor.CHECKS[-1:])  # the TF-free one: no export here
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    name = "TF-free runtime on its own grouped int8 conv"
    assert f"[FAIL] {name}: AssertionError: grouped int8 CONV_2D on xnnpack and reference" in out, out
    assert f"doctor: FAILED: {name}" in out


def test_runtime_selfcheck_matches_integer_arithmetic_on_both_kernels():
    from kvid.runtime.selfcheck import check_runtime

    result = check_runtime(threads=1)
    assert result["ok"], result
    assert result["max_steps"]["xnnpack"] <= 1 and result["max_steps"]["reference"] <= 1
    assert result["xnnpack"] is True
