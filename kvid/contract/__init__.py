"""kvid.contract: what travels between stages, in one TensorFlow-free ground floor.

- :mod:`kvid.contract.clip` - :class:`ClipSpec`, how a clip is sampled and cropped; the same
  object in a run's ``config.json``, in the sidecar, in ``kvid.runtime`` and in the Android core;
- :mod:`kvid.contract.sidecar` - the JSON beside every exported ``.tflite`` (one reader that
  validates, one writer);
- :mod:`kvid.contract.rundir` - the run directory of ``kvid train`` (files, config and state);
- :mod:`kvid.contract.faster` - FASTER's clip protocol (patterns, schedule, control fields).

Nothing here imports TensorFlow, numpy or another kvid layer; everything else imports these
from here (docs/INTERFACES.md).
"""

from kvid.contract.clip import SCHEMES, ClipSpec, default_resize

__all__ = ["SCHEMES", "ClipSpec", "default_resize"]
