"""The Android app's Kotlin type-checks, and its resources link - without the Android SDK.

- ``aapt`` (Debian's) packages ``app/src/main/res`` with the manifest against Android's real
  ``framework-res.apk`` (Debian's android-framework-res): every attribute, style and
  ``@android:`` reference must exist; it writes the R class the code uses.
- ``kotlinc`` (the JetBrains compiler from npm, on the JDK) compiles every Kotlin file of
  ``app/src/main`` and ``app/src/androidTest`` in one run against core's real sources, that R
  class, JUnit 4's real jar and the compile-only stubs in ``android_demo/stubs`` (Android,
  androidx, CameraX, LiteRT signatures written from their published APIs, see its README).
  Any error fails the test; language and API version are pinned to Kotlin 2.2 (what AGP 9's
  built-in Kotlin compiles by default).
- Negative controls: a Kotlin file with a misspelled Android API, an ignored nullable and an
  unknown R.id, and a layout with an unknown attribute, must each be refused.

What this does not prove: that the APK builds (Gradle, AGP, dexing, manifest merging and the
dependency versions are not exercised), that the stubs match the real libraries (they are
written by hand and may drift), or anything about behaviour on a device.
Skips when a tool is missing, fails instead under ``CI=true`` (android_tooling).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

import pytest

from android_tooling import ANDROID, CORE_MAIN, JUNIT_JARS, aapt, java_toolchain, kotlinc

APP = os.path.join(ANDROID, "app", "src")
STUBS = os.path.join(ANDROID, "stubs", "src")
MANIFEST = os.path.join(APP, "main", "AndroidManifest.xml")
PACKAGE = "org.kvid.demo"  # app/build.gradle.kts namespace
KOTLIN_FLAGS = ["-jvm-target", "17", "-language-version", "2.2", "-api-version", "2.2"]
# kotlinc is one JVM run; C1 only and the serial GC halve its CPU time on a small machine
JVM_FLAGS = ["-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xss4m"]


def _files(root, ext):
    return sorted(glob.glob(os.path.join(root, "**", f"*{ext}"), recursive=True))


def _aapt(tool, framework, res_dir, out_dir) -> subprocess.CompletedProcess:
    """``aapt package`` of ``res_dir`` with the app's manifest (its package added, as AGP adds
    the namespace), writing R.java under ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    with open(MANIFEST, encoding="utf-8") as fh:
        text = fh.read()
    manifest = os.path.join(out_dir, "AndroidManifest.xml")
    with open(manifest, "w", encoding="utf-8") as fh:
        fh.write(text.replace("<manifest ", f'<manifest package="{PACKAGE}" ', 1))
    return subprocess.run([tool, "package", "-f", "-m", "-J", out_dir, "-M", manifest, "-S", res_dir,
                           "-I", framework, "-F", os.path.join(out_dir, "resources.apk")],
                          capture_output=True, text=True, timeout=120)


def _kotlinc(kt_files, java_files, out_dir) -> subprocess.CompletedProcess:
    java_toolchain()  # kotlinc runs on the JDK
    cmd = [kotlinc(), *JVM_FLAGS, *KOTLIN_FLAGS, "-cp", os.pathsep.join(JUNIT_JARS), "-d", out_dir,
           *kt_files, *java_files]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"\berror:", line)]


@pytest.fixture(scope="module")
def r_java(tmp_path_factory):
    tool, framework = aapt()
    out = str(tmp_path_factory.mktemp("aapt"))
    r = _aapt(tool, framework, os.path.join(APP, "main", "res"), out)
    assert r.returncode == 0, f"aapt refused the app's resources:\n{r.stdout}{r.stderr}"
    path = os.path.join(out, *PACKAGE.split("."), "R.java")
    assert os.path.isfile(path), f"aapt wrote no R.java:\n{r.stdout}{r.stderr}"
    return path


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, r_java):
    """One kotlinc run over the whole app (main + androidTest)."""
    out = str(tmp_path_factory.mktemp("kotlinc"))
    kt = _files(os.path.join(APP, "main", "java"), ".kt") + _files(os.path.join(APP, "androidTest", "java"), ".kt") \
        + _files(STUBS, ".kt")
    java = _files(STUBS, ".java") + _files(CORE_MAIN, ".java") + [r_java]
    assert len(kt) > 8 and len(java) > 60
    r = _kotlinc(kt, java, out)
    return out, r


def test_resources_link_against_the_framework(r_java):
    with open(r_java, encoding="utf-8") as fh:
        text = fh.read()
    layouts = [os.path.splitext(os.path.basename(p))[0] for p in _files(os.path.join(APP, "main", "res", "layout"), ".xml")]
    assert set(layouts) == {"activity_main", "activity_benchmark"}
    for name in ("statusText", "previewView", "saveDumpButton", "app_name", "activity_benchmark"):
        assert re.search(rf"\bint {name}=0x", text), f"R.java lacks {name}"


def test_app_kotlin_compiles_against_core_and_the_stubs(compiled):
    out, r = compiled
    report = r.stdout + r.stderr
    assert r.returncode == 0 and not _errors(report), "the app does not compile:\n" + "\n".join(_errors(report) or [report[-4000:]])
    for cls in ("MainActivity", "BenchmarkActivity", "VideoClassifier", "VideoFile", "CameraClips", "ModelSource",
                "GoldenOnDeviceTest"):
        assert os.path.isfile(os.path.join(out, "org", "kvid", "demo", f"{cls}.class")), f"{cls} was not compiled"


def test_manifest_and_layouts_name_classes_that_exist(compiled):
    """The compile does not see class names in XML: every activity of the manifest and every
    custom view of the layouts must be a class the app or the stubs define."""
    out, _ = compiled
    with open(MANIFEST, encoding="utf-8") as fh:
        activities = re.findall(r'<activity[^>]*android:name="\.(\w+)"', fh.read(), re.S)
    assert set(activities) == {"MainActivity", "BenchmarkActivity"}
    for a in activities:
        assert os.path.isfile(os.path.join(out, "org", "kvid", "demo", f"{a}.class")), f"manifest names a missing {a}"
    for layout in _files(os.path.join(APP, "main", "res", "layout"), ".xml"):
        with open(layout, encoding="utf-8") as fh:
            for view in re.findall(r"<([a-z]\w*(?:\.\w+)+)", fh.read()):
                assert os.path.isfile(os.path.join(STUBS, *view.split(".")) + ".java"), f"{layout}: unknown view {view}"


def test_the_compile_check_refuses_broken_code(tmp_path, r_java):
    """Negative control: what a real build would refuse is refused here too."""
    bad = tmp_path / "Broken.kt"
    bad.write_text(
        "package org.kvid.demo\n\n"
        "import android.media.MediaExtractor\n"
        "import android.media.MediaFormat\n\n"
        "fun broken(e: MediaExtractor, f: MediaFormat): Int {\n"
        "    e.seekToFrame(3)\n"                          # no such method
        "    val mime: String = f.getString(MediaFormat.KEY_MIME)\n"  # String? into String
        "    return R.id.noSuchView + mime.length\n"      # no such id
        "}\n", encoding="utf-8")
    java = _files(STUBS, ".java") + [r_java]
    r = _kotlinc([str(bad)], java, str(tmp_path / "out"))
    report = r.stdout + r.stderr
    assert r.returncode != 0
    errors = "\n".join(_errors(report))
    assert "seekToFrame" in errors and "noSuchView" in errors, report[-3000:]
    assert re.search(r"String\?", errors), f"nullability not enforced:\n{report[-3000:]}"


def test_aapt_refuses_an_unknown_attribute(tmp_path):
    tool, framework = aapt()
    res = tmp_path / "res"
    shutil.copytree(os.path.join(APP, "main", "res"), res)
    layout = res / "layout" / "activity_main.xml"
    layout.write_text(layout.read_text(encoding="utf-8").replace('android:padding="12dp"', 'android:paddin="12dp"', 1),
                      encoding="utf-8")
    r = _aapt(tool, framework, str(res), str(tmp_path / "out"))
    assert r.returncode != 0 and "paddin" in r.stdout + r.stderr, r.stdout + r.stderr


def test_every_stub_is_accounted_for_in_the_stubs_readme():
    """The stubs say where their signatures come from: every stub class is named in the README."""
    with open(os.path.join(ANDROID, "stubs", "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    missing = [p for p in _files(STUBS, ".java") + _files(STUBS, ".kt")
               if os.path.splitext(os.path.basename(p))[0] not in readme]
    assert not missing, f"stubs not listed in android_demo/stubs/README.md: {missing}"


def test_missing_tools_fail_under_ci_and_skip_elsewhere(monkeypatch, tmp_path):
    """CI=true turns "tool missing" into a failure (CI cannot pass by skipping); elsewhere it skips."""
    import android_tooling

    monkeypatch.setenv("KOTLINC", str(tmp_path / "no-kotlinc"))
    monkeypatch.setenv("KVID_TOOLS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the Kotlin compiler"):
        android_tooling.kotlinc()
    with pytest.raises(pytest.fail.Exception, match="CI=true: javac/java not found"):
        android_tooling.java_toolchain()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="aapt not found"):
        android_tooling.aapt()
