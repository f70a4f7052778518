"""The README's Python example runs as written (in a scratch folder), and the README keeps
exactly the two set-up-and-run commands that .ci/run mirrors."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        return fh.read()


def test_two_commands_and_ci_runs_the_test_command():
    commands = re.findall(r"```bash\n(pip install [^\n]+)\n```", readme())
    assert commands == ['pip install -e ".[train,runtime]" && kvid demo',
                        'pip install -e ".[dev]" && python -m pytest -q']
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as fh:
        assert 'python3 -m pip install -e ".[dev]" && python3 -m pytest -q' in fh.read()


def test_ci_covers_both_tensorflow_kernel_families():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as fh:
        ci = fh.read()
    command = ci.index('python3 -m pip install -e ".[dev]" && python3 -m pytest -q')
    assert -1 < ci.index("export TF_ENABLE_ONEDNN_OPTS=0") < command  # the suite on Eigen kernels
    assert ci.index("TF_ENABLE_ONEDNN_OPTS=1 python3 -m pytest -q -m e2e") > command  # then oneDNN


@pytest.mark.slow
def test_python_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", readme(), re.S)
    assert blocks, "no Python example in the README"
    script = tmp_path / "example.py"
    script.write_text(blocks[0], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].startswith("True "), lines[-2:]  # the audit passed
    assert "'top': [" in lines[-1]
    assert (tmp_path / "sevnet_int8.tflite").is_file()
