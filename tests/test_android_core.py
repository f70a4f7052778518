"""android_demo/core on the JVM: its JUnit tests, against golden vectors generated here.

Compiles ``android_demo/core/src/main/java`` and ``core/src/test/java`` with javac
(``--release 8``: the Java 8 library API; the Android API 24 traps outside it - String.join,
java.time, java.nio.file ... - are refused by a source check), generates golden vectors with
``kvid.export.android_assets.write_golden_vectors`` for several sidecars (version 1 and 2, every
sampling scheme, 1 and 3 crops, quantisations, rotation metadata, a synthetic FASTER block and
a real tiny FASTER export; small synthetic videos of odd sizes, landscape and portrait) and runs
every JUnit test pointed at them. Python's bytes and Java's must agree exactly, so the phone and
kvid cannot drift apart.

Needs javac/java 17 and JUnit 4 (Debian: ``apt-get install -y openjdk-17-jdk-headless junit4``);
skips with a message when either is absent, fails instead under ``CI=true``.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import subprocess

import numpy as np
import pytest

from android_tooling import ANDROID, compile_core, java_toolchain, shared_opscheck_export, shared_tiny_faster_export

MAIN = os.path.join(ANDROID, "core", "src", "main", "java")

BASE = {
    "format": "kvid-tflite-sidecar", "version": 1, "kvid_version": "0.1.0", "model": "sevnet_g8",
    "labels": [f"class{i}" for i in range(7)],
    "frames": 8, "height": 64, "width": 64,
    "sampling": {"scheme": "dense", "stride": 2, "clips": 1},
    "crop": {"mode": "center", "resize": 73, "crop": 64},
    "input": {"name": "clip", "shape": [8, 64, 64, 3], "dtype": "int8", "scale": 1.0, "zero_point": -128},
    "output": {"name": "logits", "shape": [1, 7], "dtype": "int8", "scale": 0.1, "zero_point": 3},
    "faster": None,
}


def _variant(**changes) -> dict:
    sc = copy.deepcopy(BASE)
    for key, value in changes.items():
        sc[key] = value
    if "clip" in changes:  # a version-2 sidecar: one "clip" object instead of sampling + crop
        sc["version"] = 2
        del sc["sampling"], sc["crop"]
        sc["clip"] = {"scheme": "dense", "frames": sc["frames"], "stride": 1, "window": None, "clips": 1,
                      "crops": 1, "scale": None, "flip": False, **changes["clip"]}
        s = sc["clip"]["crop"]
    else:
        s = sc["crop"]["crop"]
    t = sc["frames"]
    sc["height"] = sc["width"] = s
    sc["input"]["shape"] = [t, s, s, 3]
    return sc


def sidecars() -> dict[str, dict]:
    return {
        # the documented int8 export: dense clip, raw pixels - 128, int8 logits
        "dense_int8": _variant(),
        # TSN segments with 2 clips, a uint8 input with a real scale (rounding), float logits,
        # resize left to its default
        "segments_uint8": _variant(
            frames=5, sampling={"scheme": "segments", "clips": 2},
            crop={"mode": "center", "crop": 32},
            input={"name": "clip", "shape": None, "dtype": "uint8", "scale": 2.0, "zero_point": 3},
            output={"name": "logits", "shape": [1, 7], "dtype": "float32"},
        ),
        # T frames from K consecutive, 3 clips, resize == crop, an input scale that clamps
        "consecutive_clamp": _variant(
            frames=4, sampling={"scheme": "consecutive", "stride": 1, "clips": 3, "window": 12},
            crop={"mode": "center", "resize": 48, "crop": 48},
            input={"name": "clip", "shape": None, "dtype": "int8", "scale": 0.5, "zero_point": -100},
        ),
        # version 2: 3 dense clips x 3 crops (SEVNet's Kinetics protocol: short side = crop,
        # centre and both ends) - 9 views averaged
        "v2_dense_3x3": _variant(
            frames=4, clip={"scheme": "dense", "stride": 2, "clips": 3, "crops": 3, "resize": 40, "crop": 40},
        ),
        # version 2: EAC-Net's random_rate (tests as segments), 2 clips x 3 crops, short side
        # above the crop, float logits
        "v2_random_rate": _variant(
            frames=6, clip={"scheme": "random_rate", "clips": 2, "crops": 3, "resize": 46, "crop": 40,
                            "scale": [40, 60], "flip": True},
            output={"name": "logits", "shape": [1, 7], "dtype": "float32"},
        ),
        # FASTER: N = 8 clips of L = 4 frames, pattern 1:3 (synthetic quantisation parameters)
        "faster": _variant(
            frames=4, sampling={"scheme": "dense", "stride": 1, "clips": 8},
            crop={"mode": "center", "resize": 46, "crop": 40},
            faster={"clip_frames": 4, "clips": 8, "pattern": [1, 3], "expensive": "m_expensive.tflite",
                    "cheap": "m_cheap.tflite", "step": "m.tflite", "aggregator": "fastgru",
                    "state_shape": [1, 1, 4, 16],
                    "states": [{"name": "state", "shape": [1, 1, 4, 16], "dtype": "int8",
                                "scale": 0.0173, "zero_point": -2}],
                    "feature": {"name": "feature", "shape": [1, 1, 4, 16], "dtype": "int8",
                                "scale": 0.0412, "zero_point": 9},
                    "control": ["first", "keep", "expensive", "cheap", "weight", "decay"]},
        ),
    }


#: rotation metadata of the sample videos (clockwise degrees to upright)
ROTATIONS = [0, 90, 0, 270]


#: Java 8 library API that Android API 24 lacks (javac --release 8 accepts it): the traps
FORBIDDEN = re.compile(
    r"^\s*import\s+(?:android\.|androidx\.|org\.json\.)[\w.]*"
    r"|String\.join\(|java\.time\.\w+|java\.nio\.file\.\w+|java\.util\.Base64", re.M)


def _forbidden_hits(text: str) -> list[str]:
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)  # comments may name anything
    return FORBIDDEN.findall(code)


def test_core_sources_have_no_android_or_post_api24_imports():
    """core must build as a plain java-library and run on API 24: no android.*, and none of the
    Java 8 library API that Android added only in API 26 (String.join, java.time,
    java.nio.file, java.util.Base64) - javac --release 8 would accept them."""
    for path in glob.glob(os.path.join(MAIN, "**", "*.java"), recursive=True):
        with open(path, encoding="utf-8") as fh:
            hits = _forbidden_hits(fh.read())
        assert not hits, f"{path}: uses {hits}, which Android API 24 lacks"
    # the check itself: it catches what it claims to
    assert _forbidden_hits('String s = String.join(",", list);') and not _forbidden_hits('// String.join(')


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """(java, classpath, test classes): core and its tests compiled once for this module."""
    javac, java = java_toolchain()
    cp, classes = compile_core(javac, str(tmp_path_factory.mktemp("android_core") / "classes"))
    return java, cp, classes


def _junit(java, cp, dirs, *classes):
    r = subprocess.run(
        [java, f"-Dkvid.golden={os.pathsep.join(map(str, dirs))}", "-Dkvid.golden.required=true", "-cp", cp,
         "org.junit.runner.JUnitCore", *(classes or ["org.kvid.core.GoldenVectorsTest"])],
        capture_output=True, text=True, timeout=300,
    )
    return r.returncode, r.stdout + r.stderr


def _summaries(report: str) -> list[tuple[int, int, int]]:
    """(views, FASTER clips, YUV frames) per golden folder, from GoldenVectorsTest's output."""
    found = re.findall(r"golden vectors: \d+ samples, (\d+) views match, (\d+) FASTER clips replayed, "
                       r"(\d+) YUV frames match", report)
    return [tuple(int(v) for v in m) for m in found]


def test_android_core_junit_against_golden_vectors(tmp_path, compiled):
    from kvid.export.android_assets import sample_clips, write_golden_vectors

    java, cp, classes = compiled
    assert "org.kvid.core.GoldenVectorsTest" in classes

    clips = sample_clips(seed=3)
    # sizes: landscape, portrait, a video shorter than a clip, and one large enough for the box prefilter
    assert {c.shape[1] < c.shape[2] for c in clips} == {True, False}
    dirs = []
    for name, sc in sidecars().items():
        out = tmp_path / "golden" / name
        manifest = write_golden_vectors(None, sc, clips, str(out), seed=len(dirs), rotations=ROTATIONS)
        assert len(manifest["samples"]) == len(clips)
        dirs.append(str(out))

    rc, report = _junit(java, cp, dirs, *classes)
    assert rc == 0, f"JUnit failed:\n{report[-6000:]}"
    assert re.search(r"^OK \(\d+ tests\)", report, re.M), report[-3000:]
    found = _summaries(report)
    assert len(found) == len(dirs), f"golden test did not check every set:\n{report[-3000:]}"
    expected = [(sum(len(s["views"]) for s in _manifest(d)["samples"]), 0, 3) for d in dirs]
    assert found == expected
    # what was covered: 1 and 3 crops, 9 views per video at most, rotated samples
    views = {name: len(_manifest(d)["samples"][0]["views"]) for name, d in zip(sidecars(), dirs)}
    assert views["v2_dense_3x3"] == 9 and views["v2_random_rate"] == 6 and views["dense_int8"] == 1


def test_golden_vectors_catch_a_one_byte_drift(tmp_path, compiled):
    """The comparison is real: flip one input byte, one averaged score, or one cv2 RGB byte on
    the Python side and JUnit must fail, naming what differs."""
    from kvid.export.android_assets import sample_clips, write_golden_vectors

    java, cp, _ = compiled
    out = tmp_path / "golden"
    manifest = write_golden_vectors(None, sidecars()["v2_dense_3x3"], sample_clips()[:1], str(out))
    path = out / manifest["samples"][0]["views"][4]["input"]
    data = bytearray(path.read_bytes())
    data[1234] = (data[1234] + 1) % 256
    path.write_bytes(bytes(data))
    rc, report = _junit(java, cp, [out])
    assert rc != 0 and "view 4 (clip 1, crop 1): input tensor differs first at byte 1234" in report, report[-2000:]

    manifest = write_golden_vectors(None, sidecars()["v2_dense_3x3"], sample_clips()[:1], str(out))
    manifest["samples"][0]["video"]["scores"][2] += 1e-3
    (out / "manifest.json").write_text(json.dumps(manifest))
    rc, report = _junit(java, cp, [out])
    assert rc != 0 and ": video: score 2" in report, report[-2000:]

    manifest = write_golden_vectors(None, sidecars()["dense_int8"], sample_clips()[:1], str(out))
    rgb = out / manifest["yuv"][1]["rgb"]
    data = bytearray(rgb.read_bytes())
    data[100] ^= 1
    rgb.write_bytes(bytes(data))
    rc, report = _junit(java, cp, [out])
    assert rc != 0 and "nv12 YUV -> RGB at" in report, report[-2000:]


@pytest.fixture(scope="module")
def faster_export(tmp_path_factory):
    return shared_tiny_faster_export(tmp_path_factory)


def test_golden_vectors_of_a_real_faster_export(tmp_path, compiled, faster_export):
    """A real three-model FASTER export (tiny): the golden vectors carry every clip's feature
    bytes, step inputs and raw step outputs from kvid.runtime.faster, and core replays the
    whole sequence - schedule, requantised features, control, carried state, logits - byte for
    byte, for rotated and short videos too; write_android_assets copies the three models."""
    from kvid.export.android_assets import sample_clips, write_android_assets
    from kvid.contract.sidecar import read_sidecar

    java, cp, _ = compiled
    sidecar = read_sidecar(faster_export)
    assets = tmp_path / "assets"
    videos = [c[:, :40, :52] for c in sample_clips(seed=5)]
    result = write_android_assets(faster_export, str(assets), clips=videos, rotations=ROTATIONS)
    spec = sidecar["faster"]
    assert sorted(result["files"]) == sorted(["golden/", "labels.txt", "model.json", spec["expensive"], spec["cheap"],
                                              spec["step"]])
    manifest = _manifest(str(assets / "golden"))
    assert manifest["model_logits"] is True and manifest["faster_models"]["step_inputs"].keys() >= {"feature", "control"}
    seq = manifest["samples"][0]["sequence"]
    assert [c["expensive"] for c in seq] == [True, False, True]  # 1:1 over 3 clips
    rc, report = _junit(java, cp, [assets / "golden"])
    assert rc == 0, report[-4000:]
    assert _summaries(report) == [(len(videos) * 3, len(videos) * 3, 3)]

    # a carried state that drifts by one byte is caught at the next clip
    state_file = assets / "golden" / seq[0]["step_outputs"]["state"]
    data = bytearray(state_file.read_bytes())
    data[0] = (data[0] + 1) % 256
    state_file.write_bytes(bytes(data))
    rc, report = _junit(java, cp, [assets / "golden"])
    assert rc != 0 and "FASTER clip 1: step input state" in report, report[-2000:]


def _manifest(d) -> dict:
    with open(os.path.join(d, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_golden_python_side_matches_kvid_data():
    """The Python half uses kvid.data's own sampler and views (not a copy of the formulas), and
    reads version-1 and version-2 sidecars into the same protocol."""
    from kvid.export.android_assets import (clip_indices, clip_protocol, quantize_input, to_argb, top_k, upright,
                                       video_views)
    from kvid.data.sampling import sample_indices
    from kvid.data.transforms import center_view, eval_views

    sc = sidecars()["dense_int8"]
    assert [list(i) for i in clip_indices(sc, 100)] == [list(sample_indices(100, 8, "dense", stride=2))]
    v2 = _variant(clip={"scheme": "dense", "stride": 2, "resize": 73, "crop": 64})
    assert clip_protocol(v2) == clip_protocol(sc)
    rr = sidecars()["v2_random_rate"]
    assert [list(i) for i in clip_indices(rr, 50)] == [
        list(sample_indices(50, 6, "segments", clips=2, clip_index=k)) for k in range(2)]
    video = np.random.default_rng(0).integers(0, 256, (30, 50, 70, 3)).astype(np.uint8)
    views = video_views(rr, video)
    assert [(k, c) for k, c, _ in views] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    idx = sample_indices(30, 6, "segments", clips=2, clip_index=1)
    np.testing.assert_array_equal(views[5][2], eval_views(video[idx], 40, crops=3, resize=46)[2])
    # rotation: clockwise, as core's Rotated (the top-left pixel comes from the bottom-left)
    assert upright(video[:1], 90).shape == (1, 70, 50, 3)
    np.testing.assert_array_equal(upright(video[:1], 90)[0, 0, 0], video[0, -1, 0])
    frame = np.arange(2 * 5 * 7 * 3, dtype=np.uint8).reshape(2, 5, 7, 3)
    argb = to_argb(frame)
    assert argb.dtype == np.uint32 and argb[0, 0, 1] == 0xFF000000 | (3 << 16) | (4 << 8) | 5
    view = center_view(frame, 4)
    q = quantize_input(view, sc["input"])
    assert q.dtype == np.int8 and np.array_equal(q.astype(np.int16), view.astype(np.int16) - 128)
    assert list(top_k(np.array([1, 3, 3, 2, 3], np.float32))) == [1, 2, 4, 3, 0]


@pytest.mark.slow
def test_android_assets_of_a_real_int8_export(tmp_path, tmp_path_factory, compiled):
    """`write_android_assets` on a real int8 export (the opscheck preset): the sidecar kvid
    export writes is what core reads, the model's own logits (ai-edge-litert) are in the golden
    vectors, and JUnit rebuilds everything from them."""
    from kvid.export.android_assets import write_android_assets

    java, cp, _ = compiled
    tflite = shared_opscheck_export(tmp_path_factory)
    assets = tmp_path / "assets"
    result = write_android_assets(tflite, str(assets))
    assert sorted(result["files"]) == ["golden/", "labels.txt", "model.json", "model.tflite"]
    manifest = _manifest(str(assets / "golden"))
    assert manifest["model_logits"] is True
    rc, report = _junit(java, cp, [assets / "golden"])
    assert rc == 0, report[-4000:]
    assert _summaries(report) == [(4, 0, 3)]
