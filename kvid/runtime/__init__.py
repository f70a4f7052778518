"""kvid.runtime: run kvid TFLite models without TensorFlow.

Loads ai_edge_litert, else tflite_runtime, else tf.lite (only if the first two are missing).
Importing this package never imports TensorFlow.
"""

from kvid.runtime.interpreter import ClipModel, load_interpreter, runtime_name
from kvid.runtime.predict import VideoClassifier, softmax

__all__ = ["ClipModel", "VideoClassifier", "load_interpreter", "runtime_name", "softmax"]
