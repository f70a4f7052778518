"""Run ``kvid`` as on a runtime-only install: TensorFlow, tf_keras, Keras and tfmot cannot be
imported (an import raises ModuleNotFoundError, as when they are not installed)."""

from __future__ import annotations

import os
import subprocess
import sys

BLOCK_TF = (
    "import sys\n"
    "class _Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('tensorflow', 'tf_keras', 'keras', 'tensorflow_model_optimization'):\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, _Block())\n"
    "from kvid.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def kvid_without_tensorflow(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """``kvid ARGS`` in a subprocess that cannot import TensorFlow."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-c", BLOCK_TF, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)
