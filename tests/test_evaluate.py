"""kvid evaluate: metrics, multi-view averaging, Keras vs TFLite on identical views, skipped
videos, reports, the accuracy-vs-GMACs plot, and TFLite evaluation without TensorFlow."""

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from kvid.data.synth import write_synthetic
from kvid.train.metrics import average_precision, summarize, topk_hits

T, S, K = 4, 32, 4


# -- metrics (numpy) ----------------------------------------------------------------------------
def test_topk_mean_class_accuracy_and_confusion():
    # 5 videos, 2 views, 3 classes; the second view of video 0 flips its average
    scores = np.array([
        [[3, 1, 0], [0, 5, 0]],   # true 0 -> mean [1.5, 3, 0] -> 1 (wrong), 0 in top-2
        [[0, 2, 1], [0, 2, 1]],   # true 1 -> 1
        [[0, 0, 1], [1, 0, 2]],   # true 2 -> 2
        [[0, 0, 4], [0, 0, 4]],   # true 2 -> 2
        [[1, 0, 0], [2, 0, 0]],   # true 0 -> 0
    ], np.float64)
    labels = np.array([0, 1, 2, 2, 0])
    r = summarize(scores, labels, k=2)
    assert r["videos"] == 5 and r["views"] == 2
    assert r["top1"] == pytest.approx(4 / 5)
    assert r["top5"] == pytest.approx(1.0)  # k=2 here: every true class is in the top 2
    assert r["mean_class_acc"] == pytest.approx((1 / 2 + 1 + 1) / 3)
    np.testing.assert_array_equal(r["confusion"], [[1, 1, 0], [0, 1, 0], [0, 0, 2]])
    # single view: view 0 gets 5/5, view 1 gets 4/5 (video 0 -> class 1)
    assert r["single_view"]["top1"] == pytest.approx((5 / 5 + 4 / 5) / 2)
    rows = {row["index"]: row for row in r["per_class"]}
    assert rows[0]["videos"] == 2 and rows[0]["correct"] == 1 and rows[0]["most_confused_with"] == 1
    assert rows[1]["precision"] == pytest.approx(0.5)


def test_average_precision_and_multilabel():
    assert average_precision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(average_precision([0.5, 0.4], [0, 0]))
    y = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 1]])
    s = np.array([[5.0, -1, 0.5], [-2, 3, -1], [0.0, -3, 4]])
    r = summarize(s, y)
    assert r["multi_label"] and r["mean_class_acc"] is None
    assert r["top1"] == pytest.approx(1.0)  # every top score is a true class
    assert r["mAP"] == pytest.approx(1.0)
    assert list(topk_hits(s, y, 1)) == [True, True, True]


# -- on videos ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models_and_data(tmp_path_factory):
    """A small model saved as .keras and converted to a float32 .tflite, and tiny videos."""
    from kvid.export.convert import convert, write
    from kvid import models
    from kvid.keras import keras
    from kvid.ops import save_model

    root = tmp_path_factory.mktemp("evaluate")
    data = str(write_synthetic(root / "synth", classes=K, videos_per_class=6, frames=10, size=40, seed=1))
    keras.utils.set_random_seed(5)
    model = models.build("opscheck", num_classes=K, frames=T, size=S, width=8)
    keras_file = save_model(model, str(root / "model.keras"))
    tflite_file = write(convert(model, "float32"), root / "model.tflite")
    return model, keras_file, str(tflite_file), data


def test_keras_and_tflite_score_identical_multi_views(models_and_data, tmp_path):
    from kvid.data.clips import ClipSpec, load_views
    from kvid.data.layouts import load_dataset
    from kvid.train.evaluation import evaluate, public

    model, keras_file, tflite_file, data = models_and_data
    kw = dict(split="test", clips=2, crops=3, scheme="dense", stride=2, verbose=False)
    rk = evaluate(keras_file, data, out_dir=str(tmp_path / "k"), **kw)
    rt = evaluate(tflite_file, data, out_dir=str(tmp_path / "t"), **kw)
    for r in (rk, rt):
        assert r["views"] == 6 and r["videos"] == K and r["skipped"] == 0
        assert set(public(r)) >= {"top1", "top5", "mean_class_acc", "views", "videos", "skipped"}
    with np.load(tmp_path / "k" / "predictions.npz") as f:
        sk, yk = f["scores"], f["labels"]
    with np.load(tmp_path / "t" / "predictions.npz") as f:
        st = f["scores"]
    assert sk.shape == (K, 6, K)
    np.testing.assert_allclose(st, sk, rtol=1e-4, atol=1e-4)  # same views, same model
    assert rk["top1"] == rt["top1"] and rk["mean_class_acc"] == rt["mean_class_acc"]
    # the views are kvid.data's test views: clip-major, scored one by one and averaged
    ds = load_dataset(data, "test")
    spec = ClipSpec(frames=T, crop=S, scheme="dense", stride=2, clips=2, crops=3)
    path, label = ds.items[0]
    want = model.predict(load_views(path, spec), verbose=0)
    np.testing.assert_allclose(sk[0], want, rtol=1e-4, atol=1e-5)
    assert yk[0] == label
    video_pred = sk.mean(1).argmax(1)
    assert rk["top1"] == pytest.approx(np.mean(video_pred == yk))
    # the report files
    with open(tmp_path / "k" / "per_class.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["class"] for r in rows] == ds.labels
    assert sum(int(r["videos"]) for r in rows) == K
    with open(tmp_path / "k" / "confusion.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"
    saved = json.loads((tmp_path / "k" / "metrics.json").read_text())
    assert saved["top1"] == rk["top1"] and len(saved["per_class"]) == K


def test_unreadable_videos_are_counted_and_left_out(models_and_data, tmp_path):
    from kvid.train.evaluation import evaluate

    _, _, tflite_file, data = models_and_data
    copy = tmp_path / "synth"
    shutil.copytree(data, copy)
    with open(copy / "test.txt") as f:
        lines = [ln.split()[0] for ln in f if ln.strip()]
    (copy / lines[0]).write_bytes(b"\x00not a video" * 10)  # corrupt
    os.remove(copy / lines[1])  # missing
    r = evaluate(tflite_file, str(copy), split="test", verbose=False, write=False)
    assert r["skipped"] == 2 and r["videos"] == len(lines) - 2 and r["listed"] == len(lines)


# None in sys.modules makes every `import tensorflow...` (and tf_keras, keras) fail
NO_TF = "import sys; sys.modules.update(tensorflow=None, tf_keras=None, keras=None)\n" \
        "from kvid.cli import main; sys.exit(main(sys.argv[1:]))"


def test_tflite_evaluation_needs_no_tensorflow(models_and_data, tmp_path):
    from kvid.train.evaluation import evaluate

    _, _, tflite_file, data = models_and_data
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-c", NO_TF, "evaluate", tflite_file, "--data", data, "--clips", "2",
         "--json", "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    assert {"top1", "top5", "mean_class_acc", "views", "videos", "skipped"} <= set(got)
    assert got["views"] == 2 and got["videos"] == K and got["kind"] == "tflite"
    want = evaluate(tflite_file, data, clips=2, verbose=False, write=False)
    assert got["top1"] == want["top1"] and got["mAP"] == pytest.approx(want["mAP"])
    assert (out / "confusion.png").exists() and (out / "per_class.csv").exists()


def test_evaluate_run_and_model_with_accuracy_vs_gmacs_plot(models_and_data, tmp_path, capsys):
    """A run written by kvid.train.fit from Python and a .keras file, evaluated together."""
    from kvid import models
    from kvid.cli import main
    from kvid.data.pipeline import make_dataset
    from kvid.keras import keras
    from kvid.contract import rundir
    from kvid.train import fit

    _, keras_file, _, data = models_and_data
    keras.utils.set_random_seed(0)
    train = make_dataset(data, "train", frames=T, size=S, batch_size=8, seed=0, cache=True)
    model = models.build("opscheck", num_classes=K, frames=T, size=S, width=4)
    run = str(tmp_path / "w4")
    fit(model, train, None, recipe="cpu", epochs=1, run_dir=run, verbose=0, tensorboard=False)
    config = rundir.read_config(run)
    assert config["clip"]["frames"] == T and len(config["labels"]) == K and config["summary"]["gmacs"] > 0
    png = tmp_path / "acc_gmacs.png"
    assert main(["evaluate", run, keras_file, "--data", data, "--split", "val", "--json",
                 "--plot", str(png)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["kind"] for r in results] == ["run", "keras"]
    assert results[0]["gmacs"] < results[1]["gmacs"]  # width 4 vs width 8, counted
    with open(png, "rb") as f:
        assert f.read(4) == b"\x89PNG"
    assert os.path.isfile(os.path.join(run, "eval-val-1x1", "metrics.json"))
    from kvid.analysis.plots import run_points

    (point,) = run_points([run])
    assert point["top1"] == results[0]["top1"] and point["gmacs"] == pytest.approx(results[0]["gmacs"])


def test_evaluate_user_errors(models_and_data, tmp_path, capsys):
    from kvid.cli import main

    _, keras_file, tflite_file, data = models_and_data
    assert main(["evaluate", str(tmp_path / "missing.keras"), "--data", data]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["evaluate", keras_file]) == 2  # a bare model file needs --data
    assert "--data" in capsys.readouterr().err
    other = write_synthetic(tmp_path / "three", classes=3, videos_per_class=3, frames=8, size=32)
    assert main(["evaluate", tflite_file, "--data", str(other)]) == 2
    assert "outputs" in capsys.readouterr().err
