"""The main job end to end at a tiny size, and the run-level QAT / export commands it uses:
`kvid demo` runs every step, writes its report, resumes (skips what is done), redoes from a
step; `kvid qat RUN`, `kvid export RUN` (QAT and PTQ int8) pass the audit and report parity."""

import json
import os

import pytest

from kvid.export.audit import audit
from kvid.cli import main

pytestmark = pytest.mark.e2e  # .ci/run runs these once more with oneDNN on

TINY = ["--classes", "3", "--videos-per-class", "8", "--epochs", "2", "--qat-epochs", "1",
        "--frames", "4", "--size", "32", "--quant", "float32,qat_int8,int16x8"]  # 1 conversion, not 3


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("demo") / "out")
    assert main(["demo", "--out", out, *TINY]) == 0
    return out


@pytest.mark.slow
def test_demo_runs_every_step_and_reports(demo_out):
    with open(os.path.join(demo_out, "demo.json"), encoding="utf-8") as fh:
        state = json.load(fh)
    assert list(state["done"]) == ["data", "train", "qat", "export", "evaluate", "bench", "quant", "report"]
    ev = state["done"]["evaluate"]
    assert set(ev["top1"]) == {"float Keras", "QAT Keras", "int8 TFLite", "float32 TFLite"}
    assert 0 <= ev["agreement"] <= 1 and ev["videos"] > 0
    assert audit(os.path.join(demo_out, "model_int8.tflite"), expect="int8")["ok"]
    with open(os.path.join(demo_out, "report.md"), encoding="utf-8") as fh:
        report = fh.read()
    for text in ("float Keras", "int8 TFLite", "argmax agreement", "confusion_int8.png",
                 "## Quantization variants", "kvid quant sweep", "| qat_int8 | int8 |", "| int16x8 | int16x8 |"):
        assert text in report, text
    for name in ("confusion_int8.png", "latency.png", "run/curves.png", "model_float32.tflite",
                 "quant/sweep.md", "quant/pareto_latency.png", "quant/qat_int8/layers/layers.csv"):
        assert os.path.isfile(os.path.join(demo_out, name)), name


@pytest.mark.slow
def test_demo_quantization_section_audits_every_variant(demo_out):
    """The demo's quantization step: every variant audited for its declared mode, the int16x8
    file really int16 (tensor types read from the file), the export step's files reused."""
    from kvid.quant.graph import dtype_summary
    from kvid.quant.variants import EXPECT, load_recipes

    with open(os.path.join(demo_out, "demo.json"), encoding="utf-8") as fh:
        done = json.load(fh)["done"]
    rows = {r["variant"]: r for r in done["quant"]["rows"]}
    assert set(rows) == {"float Keras", "QAT Keras", "float32", "qat_int8", "int16x8"}
    assert done["quant"]["split"] == "test" and done["quant"]["views"] == done["evaluate"]["videos"]
    for name in ("float32", "qat_int8", "int16x8"):
        recipe, = load_recipes(os.path.join(demo_out, "quant", name, "recipe.json"))
        assert rows[name]["audit_ok"] and audit(rows[name]["path"], expect=EXPECT[recipe.mode])["ok"], name
        assert rows[name]["ms_2t"] > 0 and 0 <= rows[name]["top1"] <= 1
    for name, exported in (("float32", "model_float32.tflite"), ("qat_int8", "model_int8.tflite")):
        with open(rows[name]["path"], "rb") as a, open(os.path.join(demo_out, exported), "rb") as b:
            assert a.read() == b.read(), name
    # the sweep's QAT int8 file on the same views as the evaluate step's int8 TFLite
    assert rows["qat_int8"]["top1"] == done["evaluate"]["top1"]["int8 TFLite"]
    types = dtype_summary(rows["int16x8"]["path"])
    assert rows["int16x8"]["precision"] == "int16x8" and types.get("int16", 0) > 10 and "int8" not in types, types


@pytest.mark.slow
def test_demo_resumes_and_redoes(demo_out, capsys):
    capsys.readouterr()
    assert main(["demo", "--out", demo_out, *TINY]) == 0
    assert capsys.readouterr().out.count("done earlier, skipped") == 8
    assert main(["demo", "--out", demo_out, *TINY, "--redo", "bench"]) == 0
    out = capsys.readouterr().out
    assert out.count("done earlier, skipped") == 5 and "[6/8] bench ..." in out and "[7/8] quant ..." in out
    # other settings in the same folder: refused, nothing lost
    assert main(["demo", "--out", demo_out, "--classes", "4"]) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.slow
def test_qat_and_export_of_a_run(demo_out, tmp_path, capsys):
    run = os.path.join(demo_out, "run")
    qat = str(tmp_path / "qat.keras")
    assert main(["qat", run, "--epochs", "1", "--out", qat]) == 0
    assert os.path.isfile(qat)
    for extra, name in (([], "qat"), (["--ptq"], "ptq")):
        out = str(tmp_path / f"{name}.tflite")
        capsys.readouterr()
        assert main(["export", run, "--to", "int8", "--out", out, "--json", *extra]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["audit"]["ok"] and os.path.isfile(out[:-len(".tflite")] + ".json")
        parity = result["parity"]
        assert parity["views"] > 0 and 0 <= parity["tflite_top1"] <= 1
        assert "float_top1" in parity
        if name == "qat":  # the int8 file reproduces the QAT Keras model it came from
            assert "qat_top1" in parity and parity["agreement"] >= 0.9


@pytest.mark.slow
def test_one_clip_spec_from_config_to_sidecar_to_runtime(demo_out):
    """The run's config.json clip spec travels unchanged into the sidecar and the runtime."""
    from kvid.contract import ClipSpec, rundir
    from kvid.contract.sidecar import read_sidecar
    from kvid.models import get
    from kvid.runtime import VideoClassifier

    config = rundir.read_config(os.path.join(demo_out, "run"))
    expected = get("sevnet_g8").data_protocol(frames=4, size=32).clip.resolved()
    assert ClipSpec.from_dict(config["clip"]) == expected  # the paper protocol (TSN segments)
    assert config["protocol"]["dataset"] == "Something-Something V1/V2"
    for mode in ("int8", "float32"):
        path = os.path.join(demo_out, f"model_{mode}.tflite")
        assert read_sidecar(path)["clip"] == config["clip"]
        assert VideoClassifier(path).clip == expected
