"""kvid.quant: per-layer error, sensitivity, variants (converter, ai-edge-quantizer, QAT), the
audit's precision labels, the sweep - on tiny models (opscheck, 4 frames, 32 px).

One tiny run and one sweep of it are shared by the whole module (TensorFlow's tracing and
conversions are most of its time): the sweep's variants are ai-edge-quantizer files of every
declared mode, made from the run's float32 file without TensorFlow, which the per-layer and
sensitivity tests quantize too; the converter's 16x8 mode goes through ``kvid export`` of the
run, and QAT (range methods, a QAT recipe's file and its per-layer table) and the converter's
float16 through a four-layer model."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ai_edge_quantizer")

FRAMES, SIZE = 4, 32


def _sweep_recipes():
    from kvid.quant.variants import Recipe

    return [Recipe("float32", "convert", "float32"),
            Recipe("aeq_per_tensor", "aeq", "int8", per_channel=False, calibration_clips=8),
            Recipe("aeq_int16x8", "aeq", "int16x8", activation_bits=16, calibration_clips=8),
            Recipe("aeq_mixed", "aeq", "mixed", int16_layers="gconv", calibration_clips=8),
            Recipe("aeq_fallback", "aeq", "mixed", float_layers="full3d_relu", calibration_clips=8),
            Recipe("aeq_w4", "aeq", "dynamic", weight_bits=4, calibration_clips=8)]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from kvid.data.synth import write_synthetic

    root = tmp_path_factory.mktemp("quant_data") / "synth"
    return str(write_synthetic(root, classes=4, videos_per_class=5, frames=8, size=32, seed=0))


@pytest.fixture(scope="module")
def swept(tiny_data, tmp_path_factory):
    """A tiny run (opscheck, one epoch, no validation split) and one sweep of it."""
    from kvid.quant.sweep import sweep
    from kvid.train.run import TrainConfig, train_run

    folder = tmp_path_factory.mktemp("quant_run")
    cfg = TrainConfig(model="opscheck", data=tiny_data, out=str(folder / "run"), frames=FRAMES, size=SIZE,
                      batch=4, epochs=1, recipe="cpu", model_options={"width": 4}, seed=0, scheme="dense",
                      val_split=None)
    train_run(cfg, verbose=0)
    recipes = _sweep_recipes()
    out = folder / "sweep"
    result = sweep(cfg.out, out, recipes, bench_threads=(1,), repeats=2, layer_views=2, verbose=False)
    return {"run": cfg.out, "out": out, "recipes": recipes, "result": result,
            "rows": {r["variant"]: r for r in result["rows"]}}


@pytest.fixture(scope="module")
def tiny(swept):
    """The run's float32 file (the sweep's reference) and random clips of integer pixels."""
    from kvid.runtime.agreement import random_clips

    clips = np.round(random_clips(12, (FRAMES, SIZE, SIZE, 3), seed=1))
    return {"float": str(swept["out"] / "reference_float32.tflite"), "clips": clips}


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
    assert max(r["sqnr_db"] for r in only[:2]) < 6 and min(r["sqnr_db"] for r in only[2:]) > 20, only
    assert only[0]["precision"].startswith("float fallback at normalize")  # everything else float
    # keeping the block itself float does not help: the next op still reads its output tensor
    # in int8 through the corrupted range (the range belongs to the tensor)
    kept = next(r for r in result["rows"] if r["block"] == "full3d_relu" and r["change"] == "float")
    assert kept["precision"] == "float fallback at full3d_relu" and kept["sqnr_db"] < 6


def test_aeq_minmax_ranges_cover_the_calibration_set_and_ema_is_the_library_s_narrower_one(tiny, tmp_path):
    """``ranges="minmax"`` for ai-edge-quantizer: every tensor's range in the file holds the
    global min/max of its float values over all calibration clips (not one typical clip's, which
    the library's moving average of per-clip min/max is: ``ranges="ema"``)."""
    from kvid.quant.graph import TensorReader, activation_tensors
    from kvid.quant.variants import Recipe, aeq_quantize

    calibration = tiny["clips"][:8]
    reader = TensorReader(tiny["float"])
    seen = {}
    for clip in calibration:
        for index, values in reader.run(clip).items():
            lo, hi = seen.get(index, (np.inf, -np.inf))
            seen[index] = (min(lo, float(values.min())), max(hi, float(values.max())))
    seen = {t.name: seen[t.index] for t in reader.tensors}
    output = next(t.name for t in reader.tensors if t.index == reader.interpreter.get_output_details()[0]["index"])
    used = {}
    for ranges in ("minmax", "ema"):
        data = aeq_quantize(Recipe(ranges, "aeq", "int8", ranges=ranges), tiny["float"], calibration)
        path = tmp_path / f"{ranges}.tflite"
        with open(path, "wb") as fh:
            fh.write(data)
        used[ranges] = {t.name: (t.range_used, t.scale) for t in activation_tensors(path) if t.scale is not None}
    covered = [name for name, ((lo, hi), scale) in used["minmax"].items()
               if lo <= min(seen[name][0], 0) + scale and hi >= seen[name][1] - scale]
    assert output in used["minmax"] and len(used["minmax"]) > 20
    assert sorted(covered) == sorted(used["minmax"]), sorted(set(used["minmax"]) - set(covered))
    (lo, hi), scale = used["ema"][output]
    (glo, ghi), _ = used["minmax"][output]
    assert hi - lo < 0.9 * (ghi - glo) and (hi < seen[output][1] - scale or lo > seen[output][0] + scale), \
        (used["ema"][output], used["minmax"][output], seen[output])


def test_a_pool_fits_the_range_of_all_its_parts_together():
    """kvid.ranges.Pool (ai-edge-quantizer's ranges over all calibration clips): what fit gives
    on the values concatenated - exactly for minmax and for percentiles inside the kept tails."""
    from kvid.ranges import Pool, fit

    rng = np.random.default_rng(0)
    parts = [rng.laplace(size=20000) * (1 + i) for i in range(6)]  # each clip its own spread
    pooled = np.concatenate(parts)
    for method, tail in (("minmax", 100), ("percentile:99.9", 1000), ("percentile:99", 100), ("mse", 100)):
        pool = Pool(method, parts=len(parts), tail=tail)
        for part in parts:
            pool.add(part.astype(np.float32))
        exact = fit(pooled.astype(np.float32), method)
        tol = 0.05 if (method == "mse" or tail < 0.01 * pooled.size) else 1e-4  # a subsample's estimate
        np.testing.assert_allclose(pool.fit(), exact, rtol=tol, err_msg=method)
        averaged = np.mean([fit(p, method) for p in parts], axis=0)  # the old per-clip mean
        assert pool.fit()[1] > 1.2 * averaged[1], method


def test_sweep_audits_every_variant_for_its_mode_and_the_runtime_runs_them_without_tensorflow(swept, tiny_data):
    from kvid.export.audit import audit
    from kvid.quant.graph import dtype_summary
    from kvid.quant.variants import EXPECT, load_recipes

    out, rows, recipes = swept["out"], swept["rows"], swept["recipes"]
    assert set(rows) == {"float Keras", *(r.name for r in recipes)}  # no qat.keras in the run: no QAT Keras row
    assert swept["result"]["split"] == "test" and swept["result"]["views"] == 4  # one video per class
    for recipe in recipes:
        row = rows[recipe.name]
        assert load_recipes(out / recipe.name / "recipe.json") == [recipe]
        assert row["audit_ok"], (recipe.name, row["audit"])
        assert audit(row["path"], expect=EXPECT[recipe.mode])["ok"], recipe.name
        assert row["ms_1t"] > 0 and row["size_kib"] > 0 and 0 <= row["top1"] <= 1
        assert np.isfinite(row["sqnr_db"]) and row["sqnr_db"] > 3, (recipe.name, row["sqnr_db"])
    assert rows["float32"]["sqnr_db"] > 60 and rows["float32"]["agreement"] == 1.0
    labels = {name: row["precision"] for name, row in rows.items()}
    types = dtype_summary(rows["aeq_int16x8"]["path"])  # int16 activations, read from the file's tensor types
    assert labels["aeq_int16x8"] == "int16x8" and types.get("int16", 0) > 20 and "int8" not in types, types
    assert labels["aeq_mixed"] == "mixed: int8 + int16 at gconv"  # the pattern names layers: not gconv_tanh
    assert labels["aeq_fallback"] == "float fallback at full3d_relu"
    assert labels["aeq_w4"] == "float activations, int4 weights" and labels["aeq_per_tensor"] == "int8"
    # selective precision is refused where a fully int8 file is asked for
    for name in ("aeq_mixed", "aeq_fallback"):
        refused = audit(rows[name]["path"], expect="int8")
        assert not refused["ok"] and refused["problems"][0].startswith(f"not fully int8: {labels[name]}")
    assert not audit(rows["aeq_mixed"]["path"])["ok"]  # inferred: int8 activations -> fully int8 expected
    with open(out / "aeq_per_tensor" / "layers" / "layers.json") as fh:
        layers = json.load(fh)
    assert len(layers["rows"]) > 25 and not layers["unmatched"]  # the float file's graph, quantized
    for name in ("sweep.md", "sweep.csv", "pareto_latency.png", "pareto_size.png"):
        assert os.path.getsize(out / name) > 100
    with open(out / "sweep.md") as fh:
        text = fh.read()
    assert "| aeq_mixed | aeq | mixed | mixed: int8 + int16 at gconv |" in text and "test split" in text

    # kvid predict and kvid bench on every file, TensorFlow made unimportable
    from kvid.data.layouts import load_dataset

    video = load_dataset(tiny_data, "val").items[0][0]
    files = [rows[r.name]["path"] for r in recipes]
    code = ("import sys; sys.modules['tensorflow'] = None; from kvid.cli import main; "
            f"files = {files!r}; "
            f"assert all(main(['predict', f, {str(video)!r}, '--json']) == 0 for f in files); "
            "assert main(['bench', *files, '--threads', '1', '--repeats', '1', '--warmup', '0']) == 0; "
            "assert 'tensorflow' not in [m for m in sys.modules if sys.modules[m] is not None]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count('"top"') == len(files)


def test_export_to_int16x8_writes_int16_activations(swept, tmp_path, capsys):
    """``kvid export RUN --to int16x8``: the converter's 16x8 op set, audited as int16x8."""
    from kvid.cli import main
    from kvid.contract.sidecar import read_sidecar
    from kvid.quant.graph import dtype_summary

    out = str(tmp_path / "m16.tflite")
    capsys.readouterr()
    assert main(["export", swept["run"], "--to", "int16x8", "--out", out, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["audit"]["ok"] and result["audit"]["precision"] == "int16x8" and result["audit"]["expect"] == "int16x8"
    types = dtype_summary(out)  # read from the file, not from the mode asked for
    assert types.get("int16", 0) > 20 and "int8" not in types, types
    assert read_sidecar(out)["mode"] == "int16x8" and read_sidecar(out)["input"]["dtype"] == "int16"
    assert result["parity"]["sqnr_db"] > 20  # against the float Keras model it came from


@pytest.fixture(scope="module")
def small():
    """Four layers whose TemporalMean output quantizer sees a known input (the mean over time of
    raw integer pixels, which the input quantizer passes unchanged), and long-tailed clips."""
    from kvid.keras import keras
    from kvid.ops import FoldTime, TemporalMean

    t = 4
    clip = keras.Input((t, 8, 8, 3), name="clip")
    x = TemporalMean(t, name="tmean")(FoldTime()(clip))
    logits = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D(name="gap")(x))
    rng = np.random.default_rng(0)
    batches = [np.round(rng.gamma(0.5, 30.0, (2, t, 8, 8, 3))).clip(0, 255).astype(np.float32) for _ in range(3)]
    return {"model": keras.Model(clip, logits), "batches": batches}


def _tmean_range(qat):
    weights = {w.name.split("/")[-1]: float(w.numpy()) for w in qat.get_layer("quant_tmean").weights}
    return weights["output_min:0"], weights["output_max:0"]


def _expected_range(batches, method):
    from kvid import ranges

    return np.mean([ranges.fit(b.mean(axis=1), method) for b in batches], axis=0)


def test_qat_calibration_fits_each_method_to_every_batch(small):
    """kvid.ops.calibrate(method=...): a quantizer's range is the mean over batches of the range
    kvid.ranges.fit picks on that batch; the QAT simulation calibrates with its recipe's method."""
    from kvid import KvidError
    from kvid.ops import calibrate, quantize_model
    from kvid.quant.variants import Recipe, qat_simulation

    model, batches = small["model"], small["batches"]
    qat = quantize_model(model)
    fitted = {}
    for method in ("minmax", "percentile:99", "mse"):
        calibrate(qat, batches, method=method)
        fitted[method] = _tmean_range(qat)
        np.testing.assert_allclose(fitted[method], _expected_range(batches, method), rtol=1e-5, atol=1e-4,
                                   err_msg=method)
    assert fitted["percentile:99"][1] < 0.9 * fitted["minmax"][1]  # the long tail clipped
    with pytest.raises(KvidError, match="range method 'median'"):
        calibrate(qat, batches, method="median")

    # the QAT simulation calibrates with the recipe's method and quantizes weights to its bits
    recipe = Recipe("sim", "qat-sim", "none", weight_bits=4, qat_epochs=0, ranges="mse", calibration_clips=6)
    sim = qat_simulation(recipe, model, [(b, np.zeros(2)) for b in batches], batch=2)
    np.testing.assert_allclose(_tmean_range(sim), fitted["mse"], rtol=1e-5, atol=1e-4)
    wrapper = sim.get_layer("quant_logits")
    (kernel, quantizer, variables), = [v for v in wrapper._weight_vars if "kernel" in v[0].name]
    values = quantizer(kernel, training=False, weights=variables).numpy()
    assert max(len(np.unique(values[:, j])) for j in range(values.shape[1])) <= 16  # 4-bit weights


def test_a_qat_recipe_from_the_float_model_converts_to_int8_with_its_ranges(small, tmp_path):
    """A ``qat`` recipe with ``qat_from="float"``: calibrated with its method, converted to an
    int8 file whose output range of that layer is the calibrated one; its per-layer table
    against the float file of its own weights; the converter's float16 label."""
    from kvid.export.audit import audit
    from kvid.export.convert import convert, write
    from kvid.quant.graph import activation_tensors
    from kvid.quant.layers import layer_errors
    from kvid.quant.variants import Recipe, convert_recipe, float_of_qat, qat_from_float

    model, batches = small["model"], small["batches"]
    recipe = Recipe("q", "qat", "int8", qat_from="float", qat_epochs=0, ranges="percentile:99", calibration_clips=6)
    qat = qat_from_float(recipe, model, [(b, np.zeros(2)) for b in batches], batch=2)
    lo, hi = _expected_range(batches, recipe.ranges)
    np.testing.assert_allclose(_tmean_range(qat), (lo, hi), rtol=1e-5, atol=1e-4)
    path = write(convert_recipe(recipe, model, qat), tmp_path / "q.tflite")
    report = audit(path, expect="int8")
    assert report["ok"] and report["precision"] == "int8", report["problems"]
    mean = [t for t in activation_tensors(path) if t.layer == "tmean" and t.op == "MEAN"]
    assert mean and np.allclose(mean[0].range_used, (lo, hi), rtol=0.02, atol=(hi - lo) / 255), mean
    reference = write(convert(float_of_qat(qat), "float32"), tmp_path / "q_float.tflite")
    layers = layer_errors(path, reference, [b[0] for b in batches])
    assert {r["layer"] for r in layers["rows"]} >= {"tmean", "gap"} and len(layers["rows"]) >= 4
    assert len(layers["unmatched"]) <= 1, layers["unmatched"]  # the QAT graph names its logits op apart
    f16 = write(convert_recipe(Recipe("f16", "convert", "float16"), model), tmp_path / "f16.tflite")
    assert audit(f16, expect="float")["precision"] == "float16 weights"


def test_recipes_are_json_and_bad_ones_say_why(tmp_path):
    from kvid import KvidError
    from kvid.quant.variants import DEFAULT_RECIPES, Recipe, load_recipes
    from kvid.ranges import fit

    path = tmp_path / "r.json"
    path.write_text(json.dumps([r.to_dict() for r in DEFAULT_RECIPES]))
    assert load_recipes(path) == list(DEFAULT_RECIPES)
    assert {r.ranges.split(":")[0] for r in DEFAULT_RECIPES if r.kind == "qat"} == {"minmax", "percentile", "mse"}
    defaults = {r.name: r for r in DEFAULT_RECIPES}
    assert defaults["aeq_int8"].ranges == "minmax" and defaults["aeq_int8_ema"].ranges == "ema"
    for bad, words in (({"name": "x", "kind": "convert", "ranges": "mse"}, "needs kind 'aeq', 'qat' with qat_from"),
                       ({"name": "x", "kind": "qat", "ranges": "mse"}, "needs kind 'aeq', 'qat' with qat_from"),
                       ({"name": "x", "kind": "convert", "qat_from": "float"}, "for kind 'qat' only"),
                       ({"name": "x", "kind": "aeq", "ranges": "percentile:abc"}, "percentile must be a number"),
                       ({"name": "x", "kind": "aeq", "weight_bits": 4}, "float activations only"),
                       ({"name": "x", "kind": "convert", "ranges": "ema"}, "ranges='ema' (ai-edge-quantizer"),
                       ({"name": "x", "kind": "qat", "qat_from": "float", "ranges": "ema"}, "needs kind 'aeq'"),
                       ({"name": "x", "kind": "aeq", "ranges": "median"}, "range method 'median'"),
                       ({"name": "x", "colour": 1}, "unknown recipe field(s) colour"),
                       ({"name": "x", "kind": "aeq", "int16_layers": "("}, "bad layer pattern")):
        with pytest.raises(KvidError, match=re.escape(words)):
            Recipe.from_dict(bad)
    Recipe("ok", "qat", "int8", qat_from="float", ranges="percentile:99.9")  # allowed
    values = np.concatenate([np.linspace(0, 1, 10000), [50.0]])  # one outlier
    assert fit(values, "minmax") == (0.0, 50.0)
    assert fit(values, "percentile:99.9")[1] < 1.01
    assert fit(values, "mse") == (0.0, 50.0)  # one outlier: clipping it costs more than rounding
    tail = np.random.default_rng(0).laplace(size=100_000)
    lo, hi = fit(tail, "mse", bits=4)  # a heavy tail at 4 bits: clipped
    assert tail.min() < lo < 0 < hi < tail.max()


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
