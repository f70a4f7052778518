"""kvid: efficient video recognition networks in Keras, exported to fully int8 TFLite.

Importing ``kvid`` (or ``kvid.runtime``) never imports TensorFlow: the runtime side of the
package works with only numpy, OpenCV and a TFLite interpreter installed. Training-side
modules (``kvid.ops``, ``kvid.models``, ``kvid.train``, ``export``) import TensorFlow through
:mod:`kvid.keras`.
"""

__version__ = "0.1.0"


class KvidError(Exception):
    """An error caused by the user's input (a file, a value, a shape).

    The command line prints ``kvid: error: <message>`` for it and exits with status 2,
    without a traceback. The message names the file or value and the problem, on one line.
    """
