"""The one place that selects the Keras kvid uses: tf_keras (Keras 2).

tensorflow-model-optimization (QAT) only works with Keras 2 models (see PLATFORM_NOTES.md),
so kvid sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported and uses ``tf_keras``.
Every training-side module imports ``tf`` and ``keras`` from here::

    from kvid.keras import tf, keras
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

if not tf.__version__.split(".")[:2] == keras.__version__.split(".")[:2]:  # pragma: no cover
    raise ImportError(
        f"kvid needs tf-keras of the same minor version as tensorflow: "
        f"tensorflow {tf.__version__}, tf-keras {keras.__version__}"
    )


def tfmot():
    """Import tensorflow_model_optimization lazily (it is slow to import)."""
    import tensorflow_model_optimization as _tfmot

    return _tfmot


__all__ = ["tf", "keras", "tfmot"]
