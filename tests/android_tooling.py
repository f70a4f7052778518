"""Tools the Android checks need (JDK, JUnit 4, the Kotlin compiler, aapt) and a tiny FASTER
export, shared by tests/test_android_core.py, tests/test_android_app.py and tests/test_parity.py.

A missing tool skips the test on a developer machine and fails it in CI (``CI=true``), so CI
can never pass by not running the Android checks. .ci/run installs the tools:
``openjdk-17-jdk-headless junit4 aapt android-framework-res`` from Debian and the npm package
``kotlin-compiler`` into ``$KVID_TOOLS_CACHE/kotlin`` (default ``~/.cache/kvid-tools``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANDROID = os.path.join(ROOT, "android_demo")
CORE_MAIN = os.path.join(ANDROID, "core", "src", "main", "java")
CORE_TEST = os.path.join(ANDROID, "core", "src", "test", "java")
JUNIT_JARS = ("/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar")
FRAMEWORK_RES = "/usr/share/android-framework-res/framework-res.apk"
#: the Kotlin compiler version .ci/run installs (npm package kotlin-compiler)
KOTLIN_VERSION = "2.4.20"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str, install: str):
    """Skip (fail under CI=true) because ``what`` is not installed; ``install`` says how."""
    message = f"{what} not found: {install}"
    if in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def java_toolchain() -> tuple[str, str]:
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        missing("javac/java", "apt-get install -y openjdk-17-jdk-headless")
    absent = [j for j in JUNIT_JARS if not os.path.isfile(j)]
    if absent:
        missing(f"JUnit 4 jars ({', '.join(absent)})", "apt-get install -y junit4")
    return javac, java


def compile_core(javac: str, out: str) -> tuple[str, list[str]]:
    """One javac run for core and its tests, ``--release 8`` (core's main sources stay within
    what a minSdk-24 phone runs; its java-library builds with Java 17 in Gradle). Returns the
    classpath to run them and the JUnit test classes."""
    mains = sorted(glob.glob(os.path.join(CORE_MAIN, "**", "*.java"), recursive=True))
    tests = sorted(glob.glob(os.path.join(CORE_TEST, "**", "*.java"), recursive=True))
    assert mains and tests, "android_demo/core has no sources"
    cp = os.pathsep.join(JUNIT_JARS)
    r = subprocess.run([javac, "--release", "8", "-Xlint:all", "-Xlint:-options", "-Werror", "-encoding", "UTF-8",
                        "-cp", cp, "-d", out, *mains, *tests], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"android_demo/core does not compile:\n{r.stdout}{r.stderr}"
    classes = [os.path.relpath(p, CORE_TEST)[: -len(".java")].replace(os.sep, ".") for p in tests
               if p.endswith("Test.java")]
    return os.pathsep.join([out, *JUNIT_JARS]), classes


def tools_cache() -> str:
    return os.environ.get("KVID_TOOLS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kvid-tools")


def kotlinc() -> str:
    """The kotlinc launcher: $KOTLINC, the CI cache, or kotlinc on the PATH."""
    candidates = [os.environ.get("KOTLINC"),
                  os.path.join(tools_cache(), "kotlin", "node_modules", "kotlin-compiler", "bin", "kotlinc"),
                  shutil.which("kotlinc")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    missing("the Kotlin compiler (kotlinc)",
            f"npm install --prefix {tools_cache()}/kotlin kotlin-compiler@{KOTLIN_VERSION} (or set KOTLINC)")


def aapt() -> tuple[str, str]:
    """(aapt, framework-res.apk): Debian's aapt and the Android framework resources it links against."""
    tool = shutil.which("aapt")
    if not tool:
        missing("aapt", "apt-get install -y aapt android-framework-res")
    if not os.path.isfile(FRAMEWORK_RES):
        missing(FRAMEWORK_RES, "apt-get install -y android-framework-res")
    return tool, FRAMEWORK_RES


# ------------------------------------------------------------------ a tiny real FASTER export

FASTER_LABELS = ["left", "right", "still"]
FASTER_FRAMES, FASTER_SIZE, FASTER_CLIPS, FASTER_PATTERN = 8, 32, 3, "1:1"


def tiny_faster_export(out_dir: str) -> str:
    """A real three-model int8 FASTER export (kvid.export.faster.export_faster) small enough for a
    unit test: width-4 R(2+1)D/R2D backbones, 8 frames of 32 x 32, a FAST-GRU step, random
    weights with ranges calibrated on random clips. Returns the step model's path (its sidecar
    and the two clip models beside it)."""
    pytest.importorskip("tensorflow")
    import numpy as np

    from kvid.export.faster import calibrate_step, export_faster, quantize_step
    from kvid import models, ops
    from kvid.keras import keras
    from kvid.models import faster
    from kvid.train.faster import FeatureSequences, cache_features

    k, length, size, n = len(FASTER_LABELS), FASTER_FRAMES, FASTER_SIZE, FASTER_CLIPS
    tiny = {"width": 4, "stages": (1, 1, 1, 1)}
    keras.utils.set_random_seed(0)
    expensive = models.build("r2plus1d_50", num_classes=k, frames=length, size=size, **tiny)
    cheap = models.build("r2d_26", num_classes=k, frames=length, size=size, **tiny)
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (4, 3 * length, size, size, 3)).astype(np.uint8)
    labels = np.array([0, 1, 2, 0])
    qe, qc = ops.quantize_model(expensive), ops.quantize_model(cheap)
    clips = np.stack([v[s:s + length] for v in videos for s in (0, length)]).astype(np.float32)
    for q in (qe, qc):
        ops.calibrate(q, [clips])
    channels = int(faster.feature_model(qe).output.shape[-1])
    step = faster.build_aggregator(k, length, size, kind="fastgru", channels=channels)
    caches = {name: cache_features(faster.feature_model(m), videos, length, n,
                                   os.path.join(out_dir, f"cache_{name}.npy"))
              for name, m in (("e", qe), ("c", qc))}
    data = FeatureSequences(caches["e"], caches["c"], labels, n, FASTER_PATTERN, batch_size=4,
                            training=False)
    qs = calibrate_step(quantize_step(step), data)
    result = export_faster(os.path.join(out_dir, "tiny_faster.tflite"), qe, qc, qs, clip_frames=length, clips=n,
                           pattern=FASTER_PATTERN, labels=FASTER_LABELS)
    assert result["ok"], result["audits"]
    return result["paths"]["step"]


def shared_tiny_faster_export(tmp_path_factory) -> str:
    """:func:`tiny_faster_export`, built once per test session and shared by the test modules
    that need it (the export costs tens of seconds); a marker file says it completed."""
    out = tmp_path_factory.getbasetemp() / "tiny_faster_shared"
    done = out / "complete"
    if not done.is_file():
        out.mkdir(exist_ok=True)
        step = tiny_faster_export(str(out))
        done.write_text(step, encoding="utf-8")
    return done.read_text(encoding="utf-8")


def shared_opscheck_export(tmp_path_factory) -> str:
    """A real int8 export of the ``opscheck`` preset (every kvid.ops layer, 8 x 32 x 32, random
    weights, calibrated), built once per test session; returns the .tflite path (its sidecar,
    as kvid export writes it, beside it). Treat it as read-only: copy it to change it."""
    pytest.importorskip("tensorflow")
    from kvid.export.preset import export_preset

    out = tmp_path_factory.getbasetemp() / "opscheck_shared"
    tflite = out / "ops.tflite"
    done = out / "complete"
    if not done.is_file():
        out.mkdir(exist_ok=True)
        export_preset("opscheck", str(tflite), calibration_clips=2, parity_clips=0)
        done.write_text("ok", encoding="utf-8")
    return str(tflite)

