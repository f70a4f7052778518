"""kvid.runtime: run kvid TFLite models without TensorFlow.

Loads ai_edge_litert, else tflite_runtime, else tf.lite (only if the first two are missing).
Importing this package never imports TensorFlow.
"""

from kvid.runtime.interpreter import ClipModel, dequantize, load_interpreter, quantize, runtime_name
from kvid.runtime.predict import VideoClassifier, softmax, top_k

__all__ = ["ClipModel", "VideoClassifier", "dequantize", "load_interpreter", "quantize",
           "runtime_name", "softmax", "top_k"]
