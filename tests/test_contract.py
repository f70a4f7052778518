"""The contract (kvid.contract): the clip spec, the sidecar, the run directory, the papers'
protocols - one object from config.json to the sidecar to the runtime - and the layering that
keeps it a ground floor."""

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kvid import KvidError
from kvid.contract import ClipSpec
from kvid.contract import sidecar as sc
from kvid.contract.protocol import Protocol

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- ClipSpec ------------------------------------------------------------------------------------
def test_clip_spec_round_trips_and_validates():
    spec = ClipSpec(scheme="consecutive", frames=16, window=64, clips=10, crops=3, crop=224,
                    scale=(224, 256))
    d = spec.to_dict()
    assert list(d) == ["scheme", "frames", "stride", "window", "clips", "crops", "resize", "crop",
                       "scale", "flip"]
    assert json.loads(json.dumps(d)) == d and ClipSpec.from_dict(d) == spec
    assert spec.views == 30 and spec.span == 64 and spec.test_resize == 224  # three crops: short side = crop
    assert ClipSpec(crop=64).test_resize == 73 and ClipSpec(crop=224).train_scale == (224, 256)
    for bad, message in [({"scheme": "tsn"}, "scheme='tsn'"), ({"frames": 0}, "frames=0"),
                         ({"crops": 2}, "crops=2"), ({"crop": 64, "resize": 60}, "resize=60"),
                         ({"scale": [300, 200]}, "scale"), ({"frames": 2.5}, "must be an integer"),
                         ({"size": 64}, "unknown clip field")]:
        with pytest.raises(KvidError, match=message):
            ClipSpec.from_dict({**ClipSpec().to_dict(), **bad} if "size" not in bad else bad, "x.json")


def test_clip_spec_at_another_size_keeps_the_papers_ratios():
    paper = ClipSpec(scheme="segments", frames=16, crop=224, resize=256, scale=(256, 320))
    small = paper.at(frames=8, crop=64)
    assert (small.frames, small.crop, small.resize, small.scale) == (8, 64, 73, (73, 91))
    assert paper.at(frames=4) == paper.replace(frames=4)


# -- sampling of the random-rate scheme (EAC-Net) -------------------------------------------------
def test_random_rate_sampler_trains_at_random_rates_and_tests_evenly():
    from kvid.data.sampling import sample_indices

    rng = np.random.default_rng(0)
    rates = set()
    for _ in range(200):
        idx = sample_indices(100, 8, "random_rate", training=True, rng=rng)
        steps = np.diff(idx)
        assert len(set(steps)) == 1 and idx.min() >= 0 and idx.max() < 100  # one rate per clip
        rates.add(int(steps[0]))
    assert rates == set(range(1, 100 // 7 + 1))  # every rate at which 8 frames fit 100
    np.testing.assert_array_equal(sample_indices(100, 8, "random_rate", clips=2, clip_index=1),
                                  sample_indices(100, 8, "segments", clips=2, clip_index=1))
    short = sample_indices(5, 8, "random_rate", training=True, rng=rng)
    assert list(short) == sorted(short) and short.max() < 5  # stretched, in order


# -- sidecar -------------------------------------------------------------------------------------
def _tensor(shape, dtype="int8"):
    return {"name": "t", "shape": shape, "dtype": dtype, "scale": 1.0, "zero_point": -128}


def test_sidecar_v2_written_and_read_back(tmp_path):
    clip = ClipSpec(scheme="segments", frames=8, crop=64, clips=2)
    side = sc.make_sidecar(model="sevnet_g8", labels=["a", "b", "c"], clip=clip,
                           input_tensor=_tensor([8, 64, 64, 3]), output_tensor=_tensor([1, 3]))
    path = tmp_path / "m.tflite"
    sc.write_sidecar(path, side)
    back = sc.read_sidecar(path)
    assert back["version"] == 2 and sc.clip_spec(back) == clip.replace(resize=73)
    assert back["clip"]["resize"] == 73  # resolved, so the phone does no arithmetic of its own
    assert sc.read_sidecar(tmp_path / "other.tflite") is None
    with pytest.raises(KvidError, match="no sidecar"):
        sc.read_sidecar(tmp_path / "other.tflite", required=True)
    with pytest.raises(KvidError, match="2 labels for a model with 3 outputs"):
        sc.make_sidecar(model="m", labels=["a", "b"], clip=clip, input_tensor=_tensor([8, 64, 64, 3]),
                        output_tensor=_tensor([1, 3]))


def test_sidecar_v1_reads_as_v2(tmp_path):
    v1 = {"format": sc.FORMAT, "version": 1, "model": "m", "labels": ["a", "b"], "frames": 8,
          "height": 64, "width": 64, "sampling": {"scheme": "dense", "stride": 2, "clips": 3},
          "crop": {"mode": "center", "resize": 80, "crop": 64},
          "input": _tensor([8, 64, 64, 3]), "output": _tensor([1, 2]), "faster": None}
    (tmp_path / "old.json").write_text(json.dumps(v1))
    back = sc.read_sidecar(tmp_path / "old.tflite")
    assert "sampling" not in back and sc.clip_spec(back) == ClipSpec(
        scheme="dense", frames=8, stride=2, clips=3, resize=80, crop=64)
    (tmp_path / "bad.json").write_text(json.dumps({**v1, "version": 7}))
    with pytest.raises(KvidError, match="bad.json: sidecar version 7"):
        sc.read_sidecar(tmp_path / "bad.tflite")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(KvidError, match="broken.json: unreadable sidecar"):
        sc.read_sidecar(tmp_path / "broken.tflite")


# -- the papers' protocols -------------------------------------------------------------------------
def test_every_preset_carries_its_papers_protocol():
    from kvid.models import get, presets
    from kvid.train.recipes import RECIPES

    for name, preset in presets().items():
        p = preset.protocol
        assert isinstance(p, Protocol) and p.recipe in RECIPES, name
        if preset.family != "faster" or name in ("r2plus1d_50", "r3d_50", "r2d_26"):
            assert (p.clip.frames, p.clip.crop) == (preset.defaults["frames"], preset.defaults["size"]), name
    assert get("sevnet_g8").protocol.clip.scheme == "segments"
    assert get("sevnet_g8").protocols["kinetics"].clip.scheme == "consecutive"
    assert get("sevnet_g8").protocols["kinetics"].clip.views == 30
    assert get("sevnet_g12").protocol.recipe == "sevnet_k400"  # its reference row is Kinetics
    assert get("ctnet_r50").protocols["ssv"].clip.scheme == "segments"
    eac = get("eacnet_r50").protocol.clip
    assert (eac.scheme, eac.frames, eac.test_resize, eac.crop, eac.scale) == ("random_rate", 32, 256, 256, (215, 345))
    faster = get("r2plus1d_50").protocol
    assert (faster.clip.scheme, faster.clip.clips, faster.recipe) == ("dense", 32, "faster")  # N x L = 256
    mf = get("mfnet3d").protocol
    assert (mf.clip.scheme, mf.clip.stride, mf.recipe) == ("dense", 2, "mfnet")
    with pytest.raises(KvidError, match="--protocol nope: sevnet_g8 has no such protocol"):
        get("sevnet_g8").data_protocol("nope")


def test_train_config_uses_the_protocol_and_flags_override(tmp_path):
    from kvid.train.run import TrainConfig

    data = str(tmp_path)
    cfg = TrainConfig(model="eacnet_r50", data=data, out=str(tmp_path / "r"), small=True, frames=8, size=64)
    clip = cfg.resolved_clip()
    assert (clip.scheme, clip.frames, clip.crop, clip.scale) == ("random_rate", 8, 64, (54, 86))
    cfg = TrainConfig(model="eacnet_r50", data=data, out="x", frames=8, size=64, scheme="dense", stride=2,
                      protocol="ssv")
    assert cfg.resolved_clip().scheme == "dense" and cfg.resolved_clip().stride == 2
    assert cfg.resolved_recipe().name == "eacnet_ssv2"
    config = cfg.to_config(cfg.resolved_recipe(), {}, {})
    assert config["clip"] == cfg.resolved_clip().to_dict()
    assert config["protocol"]["name"] == "ssv" and "EAC-Net" in config["protocol"]["source"]


def test_a_paper_recipe_tried_briefly_shortens_its_warmup():
    from kvid.train.run import TrainConfig

    recipe = TrainConfig(model="sevnet_g8", data=".", out="x", epochs=2).resolved_recipe()
    assert recipe.name == "sevnet" and recipe.epochs == 2
    assert recipe.warmup_epochs == pytest.approx(4 * 2 / 64)
    assert "warm-up shortened from 4 to 0.125 epochs" in recipe.notes
    step = TrainConfig(model="eacnet_r50", data=".", out="x", epochs=40).resolved_recipe()
    assert step.steps == (30,) and not step.notes  # steps beyond the run are dropped


def test_info_shows_the_protocol(capsys):
    from kvid.cli import main

    assert main(["info", "sevnet_g8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"]["clip"]["scheme"] == "segments" and "kinetics" in out["protocols"]
    assert main(["info", "ctnet_r50", "--protocol", "ssv"]) == 0
    text = capsys.readouterr().out
    assert "protocol: Something-Something V1/V2" in text and "segments 16 frames" in text


# -- layering --------------------------------------------------------------------------------------
def _imports(package: str) -> dict[str, set[str]]:
    """kvid modules imported (at any depth of the file) by each file of ``package``."""
    folder = os.path.join(ROOT, *package.split(".")) if package != "kvid.export" else os.path.join(ROOT, "export")
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            found = set()
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                    found.update(f"{node.module}.{a.name}" for a in node.names)
                elif isinstance(node, ast.Import):
                    found.update(a.name for a in node.names)
            out[os.path.relpath(path, ROOT)] = {m for m in found if m.split(".")[0] in ("kvid", "tensorflow", "numpy", "tf_keras", "cv2")}
    return out


FORBIDDEN = {  # package -> modules it must never import
    "kvid.contract": ("kvid.ops", "kvid.blocks", "kvid.models", "kvid.data", "kvid.train", "kvid.analysis",
                      "kvid.export", "kvid.runtime", "kvid.keras", "tensorflow", "tf_keras", "numpy", "cv2"),
    # (kvid.runtime.interpreter falls back to tf.lite only where no TFLite runtime is installed;
    # tests/test_runtime.py runs the runtime with TensorFlow blocked)
    "kvid.runtime": ("kvid.export", "kvid.train", "kvid.models", "kvid.blocks", "kvid.ops", "kvid.keras",
                     "tf_keras"),
    "kvid.blocks": ("kvid.runtime", "kvid.export", "kvid.train", "kvid.models"),
    "kvid.models": ("kvid.runtime", "kvid.export", "kvid.train"),
    "kvid.ops": ("kvid.blocks", "kvid.models", "kvid.runtime", "kvid.export", "kvid.train"),
    "kvid.train": ("kvid.export",),
    "kvid.analysis": ("kvid.train", "kvid.export"),
    "kvid.data": ("kvid.models", "kvid.train", "kvid.export", "kvid.runtime"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down_only(package):
    bad = [f"{path} imports {module}" for path, modules in _imports(package).items()
           for module in sorted(modules) for banned in FORBIDDEN[package]
           if module == banned or module.startswith(banned + ".")]
    assert not bad, "\n".join(bad)


def test_contract_imports_nothing_heavy():
    code = ("import sys, kvid.contract, kvid.contract.sidecar, kvid.contract.rundir, kvid.contract.protocol, "
            "kvid.contract.faster; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numpy', 'tensorflow', 'cv2') or (m.startswith('kvid.') and not m.startswith('kvid.contract'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
