"""Packaging: the folder export/ installs as kvid.export (never as a top-level ``export``),
every subpackage is listed in pyproject.toml, and no code imports the bare name."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _listed_packages() -> set[str]:
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    block = re.search(r"^packages\s*=\s*\[(.*?)\]", text, re.S | re.M).group(1)
    return set(re.findall(r'"([\w.]+)"', block))


def test_every_package_folder_is_listed():
    found = {"kvid.export"}
    for folder, _, files in os.walk(os.path.join(ROOT, "kvid")):
        if "__init__.py" in files and "__pycache__" not in folder:
            found.add(os.path.relpath(folder, ROOT).replace(os.sep, "."))
    for folder, _, files in os.walk(os.path.join(ROOT, "export")):
        if "__init__.py" in files and "__pycache__" not in folder:
            found.add("kvid." + os.path.relpath(folder, ROOT).replace(os.sep, "."))
    assert _listed_packages() == found


def test_no_code_imports_a_top_level_export_package():
    bad = []
    pattern = re.compile(r"^\s*(from\s+export[\s.]|import\s+export\b)")
    for top in ("kvid", "export", "tests", "benchmarks"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    for n, line in enumerate(open(path, encoding="utf-8"), 1):
                        if pattern.match(line):
                            bad.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_installed_as_kvid_export_only(tmp_path):
    code = ("import importlib.util, kvid.export.audit as a; "
            "print(a.__name__, importlib.util.find_spec('export') is None)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["kvid.export.audit", "True"]
