"""kvid.quant: quantization experiments on kvid's networks (``kvid quant ...``).

Built on the libraries made for it - the TFLite converter (through
:func:`kvid.export.convert.convert`: float16, dynamic, int8, int16x8, per-tensor), Google's
ai-edge-quantizer (static int8/int16 by layer pattern, float fallback, int4 weights, range
methods fed as its calibration result), tfmot's schemes (QAT, n-bit simulation) and
ai-edge-litert (every tensor of a file, kept) - kvid's own code here is the glue:

- :mod:`kvid.quant.graph` - the activation tensors of a file and the matching of tensors
  between a quantized file and its float reference (TF-free);
- :mod:`kvid.quant.layers` - per-layer error: SQNR, dB lost, RMSE/scale, cosine, range used
  vs seen (TF-free);
- :mod:`kvid.quant.sensitivity` - one block at a time float / int16 / alone (TF-free);
- :mod:`kvid.quant.variants` - the JSON recipes and the files they make;
- :mod:`kvid.quant.sweep` - a set of recipes on one run: the matrix, Markdown + CSV, Pareto.

Layering: above kvid.export and kvid.runtime (it imports both); nothing below imports it.
"""
