"""kvid.blocks: the papers' building blocks, built from kvid.ops.

One module per kind of block (each block's docstring cites the paper equation/table it
implements). Blocks are functions on folded feature maps ``(B*T, H, W, C)`` that return one,
or Keras layers registered for serialisation with a QuantizeConfig
(``kvid.ops.register_layer``).
"""
