"""kvid.quant: per-layer error, sensitivity, variants (converter, ai-edge-quantizer, QAT), the
audit's precision labels, the sweep - on tiny models (opscheck, 4 frames, 32 px)."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ai_edge_quantizer")

FRAMES, SIZE = 4, 32


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from kvid.data.synth import write_synthetic

    root = tmp_path_factory.mktemp("quant_data") / "synth"
    return str(write_synthetic(root, classes=4, videos_per_class=5, frames=8, size=32, seed=0))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """opscheck with random weights: the Keras model, its float32 file, clips."""
    from kvid import models
    from kvid.export.convert import convert, write
    from kvid.keras import tf
    from kvid.runtime.agreement import random_clips

    tf.keras.utils.set_random_seed(0)
    model = models.build("opscheck", num_classes=4, frames=FRAMES, size=SIZE, width=4)
    folder = tmp_path_factory.mktemp("quant")
    float_path = write(convert(model, "float32"), folder / "float32.tflite")
    clips = np.round(random_clips(12, (FRAMES, SIZE, SIZE, 3), seed=1))  # pixels are integers
    return {"model": model, "float": float_path, "clips": clips, "dir": folder}


def test_a_corrupted_layer_is_ranked_first_by_layers_and_sensitivity(tiny, tmp_path):
    from kvid.quant.layers import layer_errors, ranked, write_report
    from kvid.quant.sensitivity import ranked as ranked_blocks
    from kvid.quant.sensitivity import sensitivity
    from kvid.quant.variants import Recipe, aeq_quantize

    calibration, clips = tiny["clips"][:8], tiny["clips"][8:]
    good = Recipe("good", "aeq", "int8")
    bad = Recipe("bad", "aeq", "int8", range_scale={"full3d_relu": 0.01})  # a range 100x too narrow
    for recipe in (good, bad):
        with open(tmp_path / f"{recipe.name}.tflite", "wb") as fh:
            fh.write(aeq_quantize(recipe, tiny["float"], calibration))
    healthy = layer_errors(tmp_path / "good.tflite", tiny["float"], clips)
    assert len(healthy["rows"]) > 20 and not healthy["unmatched"]
    assert ranked(healthy["rows"])[0]["added_steps"] < 100  # no layer adds hundreds of steps
    broken = layer_errors(tmp_path / "bad.tflite", tiny["float"], clips)
    worst, second = ranked(broken["rows"])[:2]
    assert worst["layer"] == "full3d_relu" and worst["added_steps"] > 10 * second["added_steps"], (worst, second)
    assert worst["db_lost"] > 20 and worst["sqnr_db"] < 3
    assert worst["clipped"] > 0.3 and worst["range_seen"][1] > 10 * worst["range_used"][1]
    paths = write_report(broken, tmp_path / "layers")
    assert os.path.getsize(paths["png"]) > 1000
    with open(paths["ranked_csv"]) as fh:
        assert fh.readlines()[1].split(",")[2] == "full3d_relu"

    blocks = ["stem", "temporal", "full3d_relu", "dw_relu", "gconv"]
    result = sensitivity(tiny["float"], calibration, clips, labels=[0, 1, 2, 3], base=bad,
                         changes=("only", "float"), blocks=blocks)
    # that block alone quantized: the corrupted tensor's producer and its consumer (dw_relu reads
    # it through the same range) come first, far below every other block
    only = ranked_blocks(result["rows"], "only")
    assert {r["block"] for r in only[:2]} == {"full3d_relu", "dw_relu"}, only
    assert max(r["sqnr_db"] for r in only[:2]) < 3 and min(r["sqnr_db"] for r in only[2:]) > 20, only
    assert only[0]["precision"].startswith("float fallback at normalize")  # everything else float
    # keeping the block itself float does not help: the next op still reads its output tensor
    # in int8 through the corrupted range (the range belongs to the tensor)
    kept = next(r for r in result["rows"] if r["block"] == "full3d_relu" and r["change"] == "float")
    assert kept["precision"] == "float fallback at full3d_relu" and kept["sqnr_db"] < 3


def test_every_mode_is_labelled_from_the_file_and_runs(tiny, tmp_path):
    from kvid.export.audit import audit
    from kvid.quant.graph import dtype_summary
    from kvid.quant.variants import Recipe, aeq_quantize, convert_recipe
    from kvid.runtime import ClipModel

    recipes = [Recipe("int16x8", "convert", "int16x8"), Recipe("aeq_int16x8", "aeq", "int16x8", activation_bits=16),
               Recipe("per_tensor", "convert", "int8", per_channel=False),
               Recipe("mixed", "aeq", "mixed", int16_layers="gconv"),
               Recipe("fallback", "aeq", "mixed", float_layers="full3d_relu"),
               Recipe("w4", "aeq", "dynamic", weight_bits=4), Recipe("f16", "convert", "float16")]
    reference = np.stack([ClipModel(tiny["float"])(c) for c in tiny["clips"][8:]])
    labels = {}
    for recipe in recipes:
        path = tmp_path / f"{recipe.name}.tflite"
        data = (aeq_quantize(recipe, tiny["float"], tiny["clips"][:8]) if recipe.kind == "aeq"
                else convert_recipe(recipe, tiny["model"], calibration=tiny["clips"][:8]))
        path.write_bytes(data)
        report = audit(path, expect=recipe.expect)
        assert report["ok"], (recipe.name, report["problems"])
        labels[recipe.name] = report["precision"]
        logits = np.stack([ClipModel(path)(c) for c in tiny["clips"][8:]])
        assert np.isfinite(logits).all() and np.corrcoef(logits.ravel(), reference.ravel())[0, 1] > 0.5
    for name in ("int16x8", "aeq_int16x8"):  # int16 activations, read from the file's tensor types
        types = dtype_summary(tmp_path / f"{name}.tflite")
        assert labels[name] == "int16x8" and types.get("int16", 0) > 20 and "int8" not in types, types
    assert labels["mixed"] == "mixed: int8 + int16 at gconv"  # the pattern names layers: not gconv_tanh
    assert labels["fallback"] == "float fallback at full3d_relu"
    assert labels["w4"] == "float activations, int4 weights" and labels["f16"] == "float16 weights"
    assert labels["per_tensor"] == "int8"
    # selective precision is refused where a fully int8 file is asked for
    for name in ("mixed", "fallback"):
        refused = audit(tmp_path / f"{name}.tflite", expect="int8")
        assert not refused["ok"] and refused["problems"][0].startswith(f"not fully int8: {labels[name]}")
    assert not audit(tmp_path / "mixed.tflite")["ok"]  # inferred: int8 activations -> fully int8 expected


def test_recipes_are_json_and_bad_ones_say_why(tmp_path):
    from kvid import KvidError
    from kvid.quant.variants import DEFAULT_RECIPES, Recipe, fitted_range, load_recipes

    path = tmp_path / "r.json"
    path.write_text(json.dumps([r.to_dict() for r in DEFAULT_RECIPES]))
    assert load_recipes(path) == list(DEFAULT_RECIPES)
    for bad, words in (({"name": "x", "kind": "convert", "ranges": "mse"}, "need kind 'aeq'"),
                       ({"name": "x", "kind": "aeq", "weight_bits": 4}, "float activations only"),
                       ({"name": "x", "colour": 1}, "unknown recipe field(s) colour"),
                       ({"name": "x", "kind": "aeq", "int16_layers": "("}, "bad layer pattern")):
        with pytest.raises(KvidError, match=re.escape(words)):
            Recipe.from_dict(bad)
    values = np.concatenate([np.linspace(0, 1, 10000), [50.0]])  # one outlier
    assert fitted_range(values, "minmax") == (0.0, 50.0)
    assert fitted_range(values, "percentile:99.9")[1] < 1.01
    assert fitted_range(values, "mse") == (0.0, 50.0)  # one outlier: clipping it costs more than rounding
    tail = np.random.default_rng(0).laplace(size=100_000)
    lo, hi = fitted_range(tail, "mse", bits=4)  # a heavy tail at 4 bits: clipped
    assert tail.min() < lo < 0 < hi < tail.max()


def test_sweep_on_a_tiny_run_and_the_runtime_runs_every_variant_without_tensorflow(tiny_data, tmp_path):
    from kvid.export.audit import audit
    from kvid.export.run import qat_run
    from kvid.quant.sweep import sweep
    from kvid.quant.variants import EXPECT, Recipe, load_recipes
    from kvid.train.run import TrainConfig, train_run

    cfg = TrainConfig(model="opscheck", data=tiny_data, out=str(tmp_path / "run"), frames=FRAMES, size=SIZE,
                      batch=4, epochs=1, recipe="cpu", model_options={"width": 4}, seed=0, scheme="dense")
    train_run(cfg, verbose=0)
    qat_run(cfg.out, epochs=0, verbose=0)
    recipes = [Recipe("float32", "convert", "float32"), Recipe("qat_int8", "qat", "int8"),
               Recipe("aeq_mixed", "aeq", "mixed", int16_layers="gconv", calibration_clips=8),
               Recipe("aeq_int8_mse", "aeq", "int8", ranges="mse", calibration_clips=8),
               Recipe("aeq_w4", "aeq", "dynamic", weight_bits=4, calibration_clips=8),
               Recipe("qat_sim_w4", "qat-sim", "none", weight_bits=4, qat_epochs=0, calibration_clips=8)]
    out = tmp_path / "sweep"
    result = sweep(cfg.out, out, recipes, bench_threads=(1,), repeats=2, layer_views=2, verbose=False)
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == {"float Keras", "QAT Keras", *(r.name for r in recipes)}
    for recipe in recipes:
        row = rows[recipe.name]
        assert load_recipes(out / recipe.name / "recipe.json") == [recipe]
        if recipe.makes_file:
            assert row["audit_ok"], (recipe.name, row["audit"])
            assert audit(row["path"], expect=EXPECT[recipe.mode])["ok"]
            assert row["ms_1t"] > 0 and row["size_kib"] > 0 and 0 <= row["top1"] <= 1
        else:
            assert row["audit"] == "no file" and "simulated" in row["precision"]
    assert rows["float32"]["sqnr_db"] > 60 and rows["float32"]["agreement"] == 1.0
    assert rows["aeq_mixed"]["precision"].startswith("mixed: int8 + int16 at gconv")
    assert os.path.isfile(out / "qat_int8" / "layers" / "layers.csv")  # QAT file vs its own float weights
    with open(out / "qat_int8" / "layers" / "layers.json") as fh:
        layers = json.load(fh)
    # QAT graphs requantize in a few places the float graph has no tensor for (tanh, the logits)
    assert len(layers["rows"]) > 25 and len(layers["unmatched"]) <= 3, layers["unmatched"]
    for name in ("sweep.md", "sweep.csv", "pareto_latency.png", "pareto_size.png"):
        assert os.path.getsize(out / name) > 100
    with open(out / "sweep.md") as fh:
        assert "| qat_int8 | qat | int8 | int8 |" in fh.read()

    # kvid predict and kvid bench on every file, TensorFlow made unimportable
    from kvid.data.layouts import load_dataset

    video = load_dataset(tiny_data, "val").items[0][0]
    files = [rows[r.name]["path"] for r in recipes if r.makes_file]
    code = ("import sys; sys.modules['tensorflow'] = None; from kvid.cli import main; "
            f"files = {files!r}; "
            f"assert all(main(['predict', f, {str(video)!r}, '--json']) == 0 for f in files); "
            "assert main(['bench', *files, '--threads', '1', '--repeats', '1', '--warmup', '0']) == 0; "
            "assert 'tensorflow' not in [m for m in sys.modules if sys.modules[m] is not None]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count('"top"') == len(files)


def test_cli_layers_on_files(tiny, tiny_data, tmp_path):
    """``kvid quant layers`` on two files and a dataset (TF-free path, in process)."""
    from kvid.cli import main
    from kvid.export.metadata import write_sidecar_for
    from kvid.quant.variants import Recipe, aeq_quantize

    q = tmp_path / "q.tflite"
    q.write_bytes(aeq_quantize(Recipe("q", "aeq", "int8"), tiny["float"], tiny["clips"][:4]))
    write_sidecar_for(tiny["float"], model_name="opscheck", mode="float32")
    assert main(["quant", "layers", str(q), "--float", str(tiny["float"]), "--data", tiny_data, "--split", "train",
                 "--clips", "2", "--out", str(tmp_path / "l")]) == 0
    assert os.path.isfile(tmp_path / "l" / "layers.md")
    assert main(["quant", "layers", str(q), "--float", str(tmp_path / "none.tflite"), "--data", tiny_data,
                 "--out", str(tmp_path / "x")]) == 2
