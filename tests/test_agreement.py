"""The one logits comparison (kvid.runtime.agreement), the same int8 file on XNNPACK and on the
reference kernels, XNNPACK missing, and the GPU delegate's per-op rules (kvid.export.gpu) -
on TFLite files written with the flatbuffer schema (kvid.runtime.selfcheck), no TensorFlow."""

import json

import numpy as np
import pytest

from kvid.runtime import selfcheck


def _model_file(tmp_path, edit=None, name="m.tflite"):
    """The self-check's grouped int8 conv model, optionally edited (``edit(schema, model)``)."""
    data = selfcheck.grouped_conv_model(selfcheck.parameters())
    if edit is not None:
        import flatbuffers

        s = selfcheck._schema()
        model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
        edit(s, model)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        data = bytes(builder.Output())
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_compare_logits():
    from kvid.runtime.agreement import compare_logits, sqnr_db, top1

    ref = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 4.0], [2.0, 2.5, 0.0]])
    assert compare_logits(ref, ref) == {"views": 4, "agreement": 1.0, "sqnr_db": float("inf"), "max_abs_diff": 0.0}
    test = ref.copy()
    test[3] = [2.6, 2.5, 0.0]  # one top-1 flips
    r = compare_logits(ref, test)
    assert r["agreement"] == 0.75 and r["max_abs_diff"] == pytest.approx(0.6)
    assert r["sqnr_db"] == pytest.approx(10 * np.log10(np.sum(ref ** 2) / 0.36))
    assert sqnr_db(ref, test) == r["sqnr_db"] and top1(ref, [0, 1, 2, 1]) == 1.0


def test_same_file_same_answer_on_xnnpack_and_reference_kernels(tmp_path):
    from kvid.runtime.agreement import kernel_agreement

    k = kernel_agreement(_model_file(tmp_path), n=3)
    assert k["ok"] and k["xnnpack"] is True and k["views"] == 3, k
    assert k["agreement"] == 1.0 and k["max_diff_steps"] <= 1 and k["sqnr_db"] > 40


def test_a_mismatch_beyond_noise_is_an_error(tmp_path, monkeypatch, capsys):
    """Reference kernels that answered something else (their logits reversed): SQNR far below
    the floor -> not ok, and ``kvid audit --parity`` exits 1 naming it."""
    from kvid.cli import main
    from kvid.runtime.agreement import kernel_agreement
    from kvid.runtime.interpreter import ClipModel

    true_predict = ClipModel.predict

    def reference_reversed(self, clips):
        out = true_predict(self, clips)
        return out[:, ::-1].copy() if self.xnnpack is False else out

    monkeypatch.setattr(ClipModel, "predict", reference_reversed)
    path = _model_file(tmp_path)
    k = kernel_agreement(path, n=2)
    assert not k["ok"] and "disagree beyond noise" in k["problem"] and k["sqnr_db"] < 20, k
    assert main(["audit", path, "--parity", "--clips", "2"]) == 1
    out = capsys.readouterr().out
    assert "XNNPACK vs reference kernels on 2 clip(s)" in out and "ERROR: XNNPACK and the reference kernels disagree" in out
    assert main(["audit", path, "--parity", "--clips", "2", "--json"]) == 1
    assert not json.loads(capsys.readouterr().out)["kernels"]["ok"]


def test_a_near_tie_flip_is_noise_a_clear_one_is_not():
    """A top-1 that differs where the reference's own margin is within the noise the other
    views show is rounding; one with a clear margin is a wrong answer, even at a high SQNR."""
    from kvid.runtime.agreement import beyond_noise

    rng = np.random.default_rng(0)
    ref = rng.normal(0, 3, (128, 10))
    ref[0, :2] = [5.0, 4.99]  # view 0: a near tie
    noisy = ref + rng.uniform(-0.02, 0.02, ref.shape)
    noisy[0, :2] = [4.99, 5.0]
    r = beyond_noise(ref, noisy)
    assert r["ok"] and r["agreement"] == 127 / 128 and r["far_flips"] == 0, r
    clear = noisy.copy()
    second, top = np.argsort(ref[1])[-2:]
    clear[1, second] = ref[1, top] + 0.5  # view 1: the runner-up wins, though it was well behind
    r = beyond_noise(ref, clear)
    assert not r["ok"] and r["far_flips"] == 1 and r["sqnr_db"] > 20 and "twice the noise" in r["problem"], r


def test_without_xnnpack_the_runtime_says_so_once(tmp_path, monkeypatch, capsys):
    from kvid.runtime import interpreter
    from kvid.runtime.agreement import format_kernel_agreement, kernel_agreement

    monkeypatch.setattr(interpreter, "xnnpack_active", lambda it: False)
    monkeypatch.setitem(interpreter._said, "no_xnnpack", False)
    path = _model_file(tmp_path)
    for _ in range(2):
        assert interpreter.ClipModel(path).xnnpack is False
    err = capsys.readouterr().err
    assert err.count("XNNPACK took none of") == 1 and "~50x slower" in err, err
    k = kernel_agreement(path, n=1)
    assert k["ok"] and k["xnnpack"] is False
    assert "not compared (XNNPACK is not available" in format_kernel_agreement(k)


def test_gpu_delegate_rules(tmp_path):
    from kvid.export.audit import audit

    ok = audit(_model_file(tmp_path))
    assert ok["gpu"] == {"ok": True, "problems": [], "ops_checked": 1}

    def sign_bit(s, model):
        model.subgraphs[0].operators[0].builtinOptions.fusedActivationFunction = s.ActivationFunctionType.SIGN_BIT

    def no_stride(s, model):
        model.subgraphs[0].operators[0].builtinOptions.strideW = 0

    def conv3d(s, model):  # codes above 127 keep deprecatedBuiltinCode at its placeholder, 127
        model.operatorCodes[0].builtinCode = s.BuiltinOperator.CONV_3D
        model.operatorCodes[0].deprecatedBuiltinCode = s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES

    def topk(s, model):
        model.operatorCodes[0].builtinCode = model.operatorCodes[0].deprecatedBuiltinCode = s.BuiltinOperator.TOPK_V2

    for edit, why in ((sign_bit, "SIGN_BIT"), (no_stride, "Incorrect strideW = 0"),
                      (conv3d, "Not supported op CONV_3D"), (topk, "Not supported op TOPK_V2")):
        report = audit(_model_file(tmp_path, edit, f"{edit.__name__}.tflite"))
        assert not report["gpu"]["ok"] and len(report["gpu"]["problems"]) == 1, report["gpu"]
        assert why in report["gpu"]["problems"][0], report["gpu"]
