"""What machine and software kvid runs on: versions, CPU, int8 dot-product support, kernels.

TensorFlow-free (ground floor: imports nothing of kvid but ``kvid.KvidError``), so the
runtime-only install, ``kvid doctor``, ``kvid bench`` and every benchmark can print the same
facts. Figures differ between kernel families, so they are printed beside every figure:

- TensorFlow 2.21 runs its oneDNN kernels by default only on x86 CPUs with AVX-512-class
  features (AVX512-VNNI, AVX512-BF16, AVX-VNNI, AMX) and Eigen kernels elsewhere;
  ``TF_ENABLE_ONEDNN_OPTS=0``/``1`` forces either (../shared/PLATFORM_NOTES.md, "CPU kernel
  families").
- TFLite's int8 kernels (XNNPACK) gain over float32 through int8 dot-product instructions:
  AVX-512 VNNI or AVX-VNNI on x86, dotprod (SDOT) and i8mm on ARM. Without them (AVX2-only
  x86, e.g. most AMD EPYC/Ryzen before Zen 4) int8 is often no faster than float32.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys

# /proc/cpuinfo flag -> what kvid reports (x86 "flags", ARM "Features").
_X86_FLAGS = {
    "avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI", "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX", "amx_int8": "AMX-INT8",
}
_ARM_FEATURES = {"asimd": "NEON", "asimddp": "dotprod", "i8mm": "i8mm", "sve": "SVE", "bf16": "BF16"}
_ONEDNN_DEFAULT_FLAGS = ("AVX-512 VNNI", "AVX-512 BF16", "AVX-VNNI", "AMX")


def _cpuinfo() -> dict:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return {}
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key not in info:
            info[key] = value.strip()
        if not line.strip() and info:  # the first processor is enough
            break
    return info


def _sysctl(name: str) -> str | None:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu() -> dict:
    """``{"arch", "model", "cores", "features": [...], "int8_dot": "..."}`` of this machine."""
    arch = platform.machine().lower() or "unknown"
    info = _cpuinfo()
    model = info.get("model name") or info.get("hardware") or info.get("cpu model") or ""
    features: list[str] = []
    if info.get("flags"):
        have = set(info["flags"].split())
        features = [name for flag, name in _X86_FLAGS.items() if flag in have]
    elif info.get("features"):
        have = set(info["features"].split())
        features = [name for flag, name in _ARM_FEATURES.items() if flag in have]
    elif sys.platform == "darwin":
        model = model or (_sysctl("machdep.cpu.brand_string") or "")
        if arch in ("arm64", "aarch64"):
            features = ["NEON"]
            if _sysctl("hw.optional.arm.FEAT_DotProd") == "1":
                features.append("dotprod")
            if _sysctl("hw.optional.arm.FEAT_I8MM") == "1":
                features.append("i8mm")
    if not model:
        model = platform.processor() or arch
    return {"arch": arch, "model": model, "cores": os.cpu_count() or 1, "features": features,
            "int8_dot": int8_dot_product(arch, features)}


def int8_dot_product(arch: str, features) -> str:
    """The int8 dot-product instructions XNNPACK can use here, or ``"none"``."""
    features = set(features)
    if arch in ("x86_64", "amd64", "i386", "i686", "x86"):
        found = [name for name in ("AVX-512 VNNI", "AVX-VNNI", "AMX-INT8") if name in features]
    else:
        found = [name for name in ("dotprod", "i8mm") if name in features]
    return " + ".join(found) if found else "none"


def int8_warning(info: dict | None = None) -> str | None:
    """One line for CPUs where int8 TFLite is often not faster than float32, else None."""
    info = info or cpu()
    if info["int8_dot"] != "none":
        return None
    if info["arch"] in ("x86_64", "amd64"):
        why = "an x86 CPU without AVX-512 VNNI / AVX-VNNI"
    elif info["arch"] in ("aarch64", "arm64"):
        why = "an ARM CPU without dotprod/i8mm"
    else:
        why = f"a {info['arch']} CPU with no int8 dot-product instructions kvid knows of"
    return (f"warning: {why}: int8 models may run no faster than float32 here "
            "(phones with ARMv8.2+ cores and VNNI x86 CPUs have them)")


def onednn() -> tuple[str, str]:
    """Whether TensorFlow runs oneDNN kernels in this process: ``("on"|"off"|"n/a", why)``.

    Asks TensorFlow when it is already imported; otherwise reads ``TF_ENABLE_ONEDNN_OPTS`` and
    applies TensorFlow 2.21's default (on for x86 CPUs with AVX-512-class features).
    """
    tf = sys.modules.get("tensorflow")
    env = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if tf is not None:
        try:
            from tensorflow.python.util import _pywrap_util_port

            state = "on" if _pywrap_util_port.IsMklEnabled() else "off"
            return state, (f"TF_ENABLE_ONEDNN_OPTS={env}" if env is not None else "TensorFlow's default")
        except Exception:  # noqa: BLE001 - a private API; fall back to the rule
            pass
    if env is not None:
        return ("off" if env.strip().lower() in ("0", "false", "no", "off") else "on"), f"TF_ENABLE_ONEDNN_OPTS={env}"
    if version("tensorflow") is None:
        return "n/a", "TensorFlow is not installed"
    info = cpu()
    if info["arch"] in ("x86_64", "amd64"):
        on = any(f in info["features"] for f in _ONEDNN_DEFAULT_FLAGS)
        return ("on" if on else "off"), "TensorFlow's default for this CPU"
    return "off", "TensorFlow's default for this CPU"


def version(dist: str) -> str | None:
    """Installed version of a distribution, or None (no import)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert",
            "tflite-runtime", "ai-edge-quantizer", "numpy", "opencv-python-headless")


def versions() -> dict:
    """kvid, Python and the versions of the packages kvid uses (None = not installed)."""
    from kvid import __version__

    out = {"kvid": __version__, "python": platform.python_version()}
    for dist in PACKAGES:
        out[dist] = version(dist)
    if out["tensorflow"] is None:  # tensorflow-cpu and other builds
        out["tensorflow"] = version("tensorflow-cpu")
    return out


# What the optional extras of pyproject.toml bring, as (import name, what to call it). The
# runtime extra is satisfied by any TFLite interpreter kvid.runtime can load.
EXTRAS = {
    "train": (("tensorflow", "TensorFlow"), ("tf_keras", "tf-keras"),
              ("tensorflow_model_optimization", "tensorflow-model-optimization")),
    "runtime": (("ai_edge_litert", "ai-edge-litert"),),
}
_RUNTIME_ALTERNATIVES = ("ai_edge_litert", "tflite_runtime", "tensorflow")


def importable(module: str) -> bool:
    """Whether ``module`` can be imported here (found, not imported)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocking finder, or a module without a spec
        return False


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` (``"train"`` or ``"runtime"``) that cannot be imported here."""
    if extra == "runtime":
        return [] if any(importable(m) for m in _RUNTIME_ALTERNATIVES) else ["ai_edge_litert"]
    return [module for module, _ in EXTRAS[extra] if not importable(module)]


def extra_of(module: str | None) -> str | None:
    """The extra that installs the top-level ``module`` (``"tensorflow.lite"`` -> ``"train"``)."""
    top = (module or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if any(top == name for name, _ in modules):
            return extra
    return "runtime" if top == "tflite_runtime" else None


def install_command(extra: str) -> str:
    """The pip command that installs ``extra``: from this source checkout when kvid runs from
    one (an editable install), else from PyPI."""
    import kvid

    root = os.path.dirname(os.path.dirname(os.path.abspath(kvid.__file__)))
    project = os.path.join(root, "pyproject.toml")
    try:
        with open(project, encoding="utf-8") as fh:
            ours = 'name = "kvid"' in fh.read()
    except OSError:
        ours = False
    return f'pip install -e "{root}[{extra}]"' if ours else f'pip install "kvid[{extra}]"'


def needs_extra(what: str, extra: str, absent=None) -> str:
    """The one line that says ``what`` needs ``extra`` and how to install it."""
    names = ", ".join(label for _, label in EXTRAS[extra])
    absent = list(absent if absent is not None else missing(extra))
    here = f"; missing here: {', '.join(absent)}" if absent else ""
    return f"{what} needs the {extra} extra ({names}{here}): {install_command(extra)}"


def describe(threads: int | None = None) -> dict:
    """Everything :func:`line` prints, as a dict (for JSON results)."""
    state, why = onednn()
    return {"cpu": cpu(), "versions": versions(), "onednn": state, "onednn_why": why,
            "threads": threads, "platform": platform.platform()}


def line(threads: int | None = None) -> str:
    """The one environment line every benchmark and ``kvid bench`` prints in its header."""
    d = describe(threads)
    c, v = d["cpu"], d["versions"]
    tflite = (f"ai-edge-litert {v['ai-edge-litert']}" if v["ai-edge-litert"]
              else f"tflite-runtime {v['tflite-runtime']}" if v["tflite-runtime"] else "no TFLite runtime")
    tf = f"TF {v['tensorflow']} (oneDNN {d['onednn']})" if v["tensorflow"] else "no TensorFlow"
    feats = ", ".join(c["features"]) or "no SIMD flags read"
    thr = f", {threads} threads" if threads else ""
    return (f"env: {c['model']} ({c['arch']}, {c['cores']} cores{thr}; {feats}; int8 dot product: "
            f"{c['int8_dot']}) | {tf} | {tflite} | kvid {v['kvid']}, Python {v['python']}")


__all__ = ["EXTRAS", "cpu", "describe", "extra_of", "importable", "install_command", "int8_dot_product",
           "int8_warning", "line", "missing", "needs_extra", "onednn", "version", "versions"]
