"""`kvid predict MODEL [VIDEO] --compare DUMP`: an Android parity dump against kvid's runtime.

The dump is made on the JVM by core's own pipeline (``org.kvid.core.ParityDumpMain``: the
app's VideoPlan/ClipInput/VideoScores/ParityDump) from kvid's decode of a real video file, with
the real model's outputs for those inputs; so an honest dump must compare as identical, and a
tampered one must not. A plain int8 model with 2 clips x 3 crops (a version-2 sidecar written
here) and a real tiny FASTER export are both checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile

import cv2
import numpy as np
import pytest

from android_tooling import compile_core, java_toolchain, shared_opscheck_export, shared_tiny_faster_export
from kvid import KvidError


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    javac, java = java_toolchain()
    cp, _ = compile_core(javac, str(tmp_path_factory.mktemp("parity_core") / "classes"))
    return java, cp


def _video(path, n=20, h=56, w=72) -> str:
    """A real mp4 file (OpenCV's mp4v): a bright square moving over a gradient."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    assert writer.isOpened()
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        frame = np.stack([(xx * 3 + i * 5) % 256, (yy * 4) % 256, np.full_like(xx, 60)], -1).astype(np.uint8)
        frame[10:30, 4 + 2 * i:24 + 2 * i] = 230
        writer.write(frame[..., ::-1].copy())
    writer.release()
    return str(path)


def _dump(core, tflite, sidecar, video, out_dir) -> str:
    """Golden vectors of kvid's decode of ``video`` with the model's outputs, turned into a
    parity dump by core (as the app builds it)."""
    from kvid.export.android_assets import write_golden_vectors
    from kvid.data.video import VideoReader

    java, cp = core
    with VideoReader(video) as reader:
        frames = reader.read(np.arange(reader.num_frames))
    golden = os.path.join(out_dir, "golden")
    write_golden_vectors(tflite, sidecar, [frames], golden)
    dump = os.path.join(out_dir, "phone.zip")
    r = subprocess.run([java, "-cp", cp, "org.kvid.core.ParityDumpMain", golden, "0", dump],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return dump


def _rewrite(dump, out, change):
    """A copy of the zip ``dump`` with ``change(name, bytes) -> bytes`` applied to each entry."""
    with zipfile.ZipFile(dump) as zin, zipfile.ZipFile(out, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))
    return out


def _cli(*args) -> tuple[int, str]:
    """``kvid predict ARGS``: exit status and stdout (+ stderr, where errors and the runtime's
    log lines go, after a NUL)."""
    r = subprocess.run(["kvid", "predict", *map(str, args)], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + "\0" + r.stderr


@pytest.fixture(scope="module")
def plain(tmp_path_factory, core):
    """A tiny int8 export (opscheck) whose sidecar (version 2, by hand) asks for 2 clips x 3
    crops, a video, and the core-made dump of it."""
    d = tmp_path_factory.mktemp("parity_plain")
    shared = shared_opscheck_export(tmp_path_factory)
    tflite = str(d / "ops.tflite")
    shutil.copyfile(shared, tflite)
    side_path = str(d / "ops.json")
    with open(os.path.splitext(shared)[0] + ".json", encoding="utf-8") as fh:
        sidecar = json.load(fh)
    size = sidecar["height"]
    # whatever version kvid export wrote: version 2 with 2 clips x 3 crops, short side = crop
    sidecar = {k: v for k, v in sidecar.items() if k not in ("sampling", "crop")}
    sidecar.update(version=2, clip={"scheme": "dense", "frames": sidecar["frames"], "stride": 1, "window": None,
                                    "clips": 2, "crops": 3, "resize": size, "crop": size, "scale": None,
                                    "flip": False})
    with open(side_path, "w", encoding="utf-8") as fh:
        json.dump(sidecar, fh)
    video = _video(d / "video.mp4")
    return {"tflite": tflite, "sidecar": sidecar, "video": video, "dump": _dump(core, tflite, sidecar, video, str(d))}


def test_an_honest_dump_compares_identical(plain):
    from kvid.runtime.parity import compare, format_report

    r = compare(plain["dump"], plain["tflite"], video=plain["video"])
    m, p = r["model_parity"], r["pipeline"]
    assert r["ok"], format_report(r)
    assert m["views"] == 6 and m["identical"] == 6 and m["max_abs_diff"] == 0.0
    assert p["indices_equal"] == 2 and p["inputs_identical"] == 6 and p["input_bytes_equal"] == 1.0
    assert p["num_frames_phone"] == p["num_frames_kvid"] == 20 and p["top5_phone"] == p["top5_kvid"]
    rc, out = _cli(plain["tflite"], plain["video"], "--compare", plain["dump"])
    assert rc == 0 and "6/6 views byte-identical outputs" in out and "parity: OK" in out, out
    rc, out = _cli(plain["tflite"], "--compare", plain["dump"], "--json")  # no video: the model alone
    assert rc == 0 and json.loads(out.split("\0")[0])["pipeline"] is None, out


def test_a_drifting_phone_is_reported(plain, tmp_path):
    """Other output bytes (as a differing interpreter would give) fail model parity; other input
    bytes (as a differing decoder would give) show in the pipeline numbers."""
    from kvid.runtime.parity import Dump, compare

    dump = Dump(plain["dump"])
    spec = plain["sidecar"]["output"]
    out0 = dump.outputs[0].reshape(-1).copy()
    worst = int(np.argmin(out0))
    out0[worst] = np.iinfo(out0.dtype).max  # the lowest class becomes the phone's top-1
    bad = _rewrite(plain["dump"], tmp_path / "bad_out.zip",
                   lambda n, b: out0.tobytes() if n == "view0.output" else b)
    rc, out = _cli(plain["tflite"], "--compare", bad)
    assert rc == 1 and "5/6 views byte-identical" in out and "MISMATCH" in out and "parity: FAILED" in out, out
    r = compare(bad, plain["tflite"])
    assert r["model_parity"]["max_abs_diff"] > float(spec["scale"])
    assert not r["model_parity"]["phone_scores_match_its_outputs"]  # parity.json's scores were not changed

    inp = dump.inputs[3].copy()
    inp.flat[100] = np.int8(inp.flat[100] + 3) if inp.flat[100] < 120 else np.int8(inp.flat[100] - 3)
    bad = _rewrite(plain["dump"], tmp_path / "bad_in.zip", lambda n, b: inp.tobytes() if n == "view3.input" else b)
    r = compare(bad, plain["tflite"], video=plain["video"])
    p = r["pipeline"]
    assert p["inputs_identical"] == 5 and p["input_max_abs_diff"] == 3 and 0.99 < p["input_bytes_equal"] < 1.0

    with pytest.raises(KvidError, match="not a zip file"):
        compare(plain["video"], plain["tflite"])
    rc, out = _cli(plain["tflite"])
    assert rc == 2 and "give the VIDEO" in out, out


def test_a_faster_dump_is_replayed_through_the_stream(tmp_path, tmp_path_factory, core):
    """A FASTER dump: kvid.runtime.faster replays the phone's clips in the schedule, the state
    carried, and gets the same step logits; the video decoded by kvid gives the same clips."""
    from kvid.contract.sidecar import read_sidecar
    from kvid.runtime.parity import compare, format_report

    step = shared_tiny_faster_export(tmp_path_factory)
    video = _video(tmp_path / "video.mp4", n=30, h=40, w=48)
    dump = _dump(core, step, read_sidecar(step), video, str(tmp_path))
    r = compare(dump, step, video=video)
    assert r["ok"] and r["faster"], format_report(r)
    assert r["model_parity"]["identical"] == 3 and r["pipeline"]["inputs_identical"] == 3
    # a dump whose clips ran in another order than the pattern cannot be replayed honestly
    manifest = json.loads(zipfile.ZipFile(dump).read("parity.json"))
    manifest["views"][1]["expensive"] = True
    bad = _rewrite(dump, tmp_path / "bad.zip",
                   lambda n, b: json.dumps(manifest).encode() if n == "parity.json" else b)
    with pytest.raises(KvidError, match="view 1 ran the expensive model"):
        compare(bad, step)


def test_the_compare_needs_neither_tensorflow_nor_the_export_package(plain):
    """kvid.runtime stays TF-free: a whole compare (with the video) in a fresh interpreter
    imports no tensorflow and no kvid.export."""
    import sys

    code = ("import sys\nfrom kvid.runtime.parity import compare\n"
            f"r = compare({plain['dump']!r}, {plain['tflite']!r}, video={plain['video']!r})\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')"
            " or m.startswith('kvid.export'))\n"
            "print(r['ok'], bad)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == "True []", r.stdout
