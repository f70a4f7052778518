"""android_demo/core on the JVM: its JUnit tests, against golden vectors generated here.

Compiles ``android_demo/core/src/main/java`` and ``core/src/test/java`` with javac
(``--release 8``: the Java 8 library API, a safe subset of what Android API 24 offers), generates
golden vectors with ``export.android_assets.write_golden_vectors`` for several sidecars (the
sampling schemes, quantisations and a FASTER block; small synthetic videos of odd sizes,
landscape and portrait) and runs every JUnit test pointed at them. Python's bytes and Java's
must agree exactly, so the phone and kvid cannot drift apart.

Needs javac/java 17 and JUnit 4 (Debian: ``apt-get install -y openjdk-17-jdk-headless junit4``);
skips with a message when either is absent.
"""

from __future__ import annotations

import copy
import glob
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = os.path.join(ROOT, "android_demo", "core")
MAIN = os.path.join(CORE, "src", "main", "java")
TEST = os.path.join(CORE, "src", "test", "java")
JUNIT_JARS = ("/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar")

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
    t, s = sc["frames"], sc["crop"]["crop"]
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
        # FASTER: N = 8 clips of L = 4 frames, pattern 1:3
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


def _toolchain():
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        pytest.skip("javac/java not found: install a JDK 17 (apt-get install -y openjdk-17-jdk-headless)")
    missing = [j for j in JUNIT_JARS if not os.path.isfile(j)]
    if missing:
        pytest.skip(f"JUnit 4 jars missing ({', '.join(missing)}): apt-get install -y junit4")
    return javac, java


def _compile(javac: str, out: str) -> tuple[str, list[str]]:
    """One javac run for core and its tests, ``--release 8``: the Java 8 library API, which
    Android API 24 offers (core's java-library builds with Java 17 in Gradle; the tests here
    keep its main sources to what a minSdk-24 phone can run)."""
    mains = sorted(glob.glob(os.path.join(MAIN, "**", "*.java"), recursive=True))
    tests = sorted(glob.glob(os.path.join(TEST, "**", "*.java"), recursive=True))
    assert mains and tests, "android_demo/core has no sources"
    cp = os.pathsep.join(JUNIT_JARS)
    r = subprocess.run([javac, "--release", "8", "-Xlint:all", "-Xlint:-options", "-Werror", "-encoding", "UTF-8",
                        "-cp", cp, "-d", out, *mains, *tests], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"android_demo/core does not compile:\n{r.stdout}{r.stderr}"
    classes = [os.path.relpath(p, TEST)[: -len(".java")].replace(os.sep, ".") for p in tests
               if p.endswith("Test.java")]
    return os.pathsep.join([out, *JUNIT_JARS]), classes


def test_core_sources_have_no_android_or_post_api24_imports():
    """core must build as a plain java-library and run on API 24 (no java.nio.file, java.time)."""
    forbidden = re.compile(r"^\s*import\s+(android\.|androidx\.|java\.nio\.file\.|java\.time\.|org\.json\.)", re.M)
    for path in glob.glob(os.path.join(MAIN, "**", "*.java"), recursive=True):
        with open(path, encoding="utf-8") as fh:
            hits = forbidden.findall(fh.read())
        assert not hits, f"{path}: imports {hits}"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """(java, classpath, test classes): core and its tests compiled once for this module."""
    javac, java = _toolchain()
    cp, classes = _compile(javac, str(tmp_path_factory.mktemp("android_core") / "classes"))
    return java, cp, classes


def test_android_core_junit_against_golden_vectors(tmp_path, compiled):
    from export.android_assets import sample_clips, write_golden_vectors

    java, cp, classes = compiled
    assert "org.kvid.core.GoldenVectorsTest" in classes

    clips = sample_clips(seed=3)
    # sizes: landscape, portrait, a video shorter than a clip, and one large enough for the box prefilter
    assert {c.shape[1] < c.shape[2] for c in clips} == {True, False}
    dirs = []
    for name, sc in sidecars().items():
        out = tmp_path / "golden" / name
        manifest = write_golden_vectors(None, sc, clips, str(out), seed=len(dirs))
        assert len(manifest["samples"]) == len(clips)
        dirs.append(str(out))

    r = subprocess.run(
        [java, f"-Dkvid.golden={os.pathsep.join(dirs)}", "-Dkvid.golden.required=true", "-cp", cp,
         "org.junit.runner.JUnitCore", *classes],
        capture_output=True, text=True, timeout=300,
    )
    report = r.stdout + r.stderr
    assert r.returncode == 0, f"JUnit failed:\n{report[-6000:]}"
    assert re.search(r"^OK \(\d+ tests\)", report, re.M), report[-3000:]
    matched = re.findall(r"golden vectors: \d+ samples, (\d+) clips match", report)
    assert len(matched) == len(dirs), f"golden test did not check every set:\n{report[-3000:]}"
    expected_clips = [sum(len(c["clips"]) for c in _manifest(d)["samples"]) for d in dirs]
    assert [int(m) for m in matched] == expected_clips


def test_golden_vectors_catch_a_one_byte_drift(tmp_path, compiled):
    """The comparison is real: flip one input byte on the Python side and JUnit must fail."""
    from export.android_assets import sample_clips, write_golden_vectors

    java, cp, _ = compiled
    out = tmp_path / "golden"
    manifest = write_golden_vectors(None, sidecars()["dense_int8"], sample_clips()[:1], str(out))
    path = out / manifest["samples"][0]["clips"][0]["input"]
    data = bytearray(path.read_bytes())
    data[1234] = (data[1234] + 1) % 256
    path.write_bytes(bytes(data))
    r = subprocess.run(
        [java, f"-Dkvid.golden={out}", "-Dkvid.golden.required=true", "-cp", cp,
         "org.junit.runner.JUnitCore", "org.kvid.core.GoldenVectorsTest"],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode != 0
    assert "input tensor differs first at byte 1234" in r.stdout + r.stderr


def _manifest(d: str) -> dict:
    import json

    with open(os.path.join(d, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_golden_python_side_matches_kvid_data():
    """The Python half uses kvid.data's own sampler and view (not a copy of the formulas)."""
    from export.android_assets import clip_indices, quantize_input, to_argb, top_k
    from kvid.data.sampling import sample_indices
    from kvid.data.transforms import center_view

    sc = sidecars()["dense_int8"]
    assert [list(i) for i in clip_indices(sc, 100)] == [list(sample_indices(100, 8, "dense", stride=2))]
    frame = np.arange(2 * 5 * 7 * 3, dtype=np.uint8).reshape(2, 5, 7, 3)
    argb = to_argb(frame)
    assert argb.dtype == np.uint32 and argb[0, 0, 1] == 0xFF000000 | (3 << 16) | (4 << 8) | 5
    view = center_view(frame, 4)
    q = quantize_input(view, sc["input"])
    assert q.dtype == np.int8 and np.array_equal(q.astype(np.int16), view.astype(np.int16) - 128)
    assert list(top_k(np.array([1, 3, 3, 2, 3], np.float32))) == [1, 2, 4, 3, 0]


@pytest.mark.slow
def test_android_assets_of_a_real_int8_export(tmp_path, compiled):
    """`write_android_assets` on a real int8 export (the opscheck preset): the sidecar kvid
    export writes is what core reads, the model's own logits (ai-edge-litert) are in the golden
    vectors, and JUnit rebuilds everything from them."""
    pytest.importorskip("tensorflow")
    from export.android_assets import write_android_assets
    from export.preset import export_preset

    java, cp, _ = compiled
    tflite = tmp_path / "ops.tflite"
    export_preset("opscheck", str(tflite), calibration_clips=2, parity_clips=0)
    assets = tmp_path / "assets"
    result = write_android_assets(str(tflite), str(assets))
    assert sorted(result["files"]) == ["golden/", "labels.txt", "model.json", "model.tflite"]
    manifest = _manifest(str(assets / "golden"))
    assert manifest["model_logits"] is True
    r = subprocess.run(
        [java, f"-Dkvid.golden={assets / 'golden'}", "-Dkvid.golden.required=true", "-cp", cp,
         "org.junit.runner.JUnitCore", "org.kvid.core.GoldenVectorsTest"],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "clips match" in r.stdout
