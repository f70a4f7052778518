"""FASTER's aggregators, one recurrent *step* each (Zhu et al., "FASTER Recurrent Networks for
Efficient Video Classification", ../shared/papers/002_*.txt, Eq. 1-5, Fig. 2, Table 3).

A step is a Keras model with explicit state in and out, so the same step runs offline over N
clips (``kvid.models.faster.FasterSequence`` loops it) and online one clip at a time (the
exported ``step.tflite``, kvid.runtime.faster)::

    inputs : feature (B, l, h*w, C)   the clip's res5 map, l = L/8 (SplitTime layout, rank 4)
             state...                 aggregator-specific, zeros before the first clip
             control (B, 1, 1, 6)     kvid.contract.faster.control_vector(t, expensive)
    outputs: state... (same shapes), logits (B, K)

The first clip sets the state to its own feature, ``o_0 = x_0`` (Eq. 1); later clips apply the
recurrence ``o_t = f(o_{t-1}, x_t)``. Both are one graph: ``o = first * init(x) + keep *
f(o, x)`` with ``first``/``keep`` read from ``control`` (exact 0/1 selects in int8). The
prediction after every clip is ``FC(GAP(o_t))``, as the paper applies after the last step.

* :func:`fastgru_step` - FAST-GRU, Eq. 4 + Eq. 3: bottleneck gates (1x1x1 convs C -> C/r,
  ReLU, C/r -> C, sigmoid; r = 4) on the spatio-temporal state, which keeps its
  ``l x h x w x C`` resolution. U_rx/U_ro (and U_zx/U_zo) are separate convs summed, V_x and
  V_o separate convs (REFERENCE_NUMBERS.md, "Details the papers leave open"). One step on a
  7x7x2048 slice: 3.5 C^2 * 49 = 0.72 GMACs.
* :func:`gru_step` / :func:`lstm_step` - the GRU (Eq. 2-3) and LSTM baselines on globally
  pooled features (C x C matrices as 1x1 convs on ``(B, 1, 1, C)``). LSTM: input, forget and
  output gates and a cell, no peepholes; ``h_0`` = pooled ``x_0``, cell 0.
* :func:`concat_step` - the Concat baseline, Eq. 5 / Fig. 2a: ``ReLU(BN(W o + U x))`` as one
  1x1x1 conv on the concatenation, at full resolution.
* :func:`avgpool_step` - the average-pooling baseline: the running mean of clip scores, each
  clip scored by the classifier of the backbone that produced it (``expensive`` selects it).

Custom layers: :class:`ControlField` (slice one control field), :class:`Select` (a 0/1 flag
times a tensor, int8 MUL whose output range is the union of all values seen, so clips where
the flag is 0 do not shrink it) and :class:`OneMinus` (``1 - z`` for the GRU update, int8 SUB).
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.keras import keras, tf, tfmot
from kvid.ops.quantize import PassThroughQuantizeConfig
from kvid.contract.faster import CONTROL_FIELDS

register = keras.utils.register_keras_serializable(package="kvid")
_qk = tfmot().quantization.keras

KINDS = ("fastgru", "gru", "lstm", "concat", "avgpool")


@register
class ControlField(keras.layers.Layer):
    """``control[..., i:i+1]`` for the field named ``field`` (kvid.contract.faster.CONTROL_FIELDS)."""

    def __init__(self, field, **kwargs):
        super().__init__(**kwargs)
        if field not in CONTROL_FIELDS:
            raise KvidError(f"control field {field!r}: must be one of {', '.join(CONTROL_FIELDS)}")
        self.field = field

    def call(self, control):
        i = CONTROL_FIELDS.index(self.field)
        return control[..., i:i + 1]

    def get_config(self):
        return {**super().get_config(), "field": self.field}


@register
class Select(ops.Gate):
    """``x * flag`` for a 0/1 (or [0, 1]) flag broadcast over ``x``; see the module text."""


@register
class OneMinus(keras.layers.Layer):
    """``1 - z`` (``z`` a sigmoid gate in [0, 1])."""

    def call(self, z):
        return 1.0 - z


@register
class AllValuesQuantizeConfig(PassThroughQuantizeConfig):
    """Output quantized 8-bit asymmetric over the min/max of *all* values seen (not a moving
    average): a flag that is 0 on most clips must not shrink the range it selects."""

    def get_output_quantizers(self, layer):
        return [_qk.quantizers.AllValuesQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                  narrow_range=False)]


@register
class UnitRangeQuantizeConfig(PassThroughQuantizeConfig):
    """Output quantized on the fixed range [0, 1]."""

    def get_output_quantizers(self, layer):
        return [_qk.quantizers.FixedQuantizer(num_bits=8, init_min=0.0, init_max=1.0,
                                              narrow_range=False)]


ops.register_layer(ControlField, PassThroughQuantizeConfig)
ops.register_layer(Select, AllValuesQuantizeConfig)
ops.register_layer(OneMinus, UnitRangeQuantizeConfig)


def _conv(x, filters, name, *, bias=True, activation=None):
    """A 1x1x1 conv: Conv2D 1x1 on the ``(B, l, h*w, C)`` layout."""
    return ops.spatial_conv(x, filters, 1, use_bias=bias, activation=activation, name=name)


def _add(tensors, name, activation=None):
    y = keras.layers.Add(name=name)(tensors)
    if activation == "relu":
        return keras.layers.ReLU(name=f"{name}_relu")(y)
    if activation:
        return keras.layers.Activation(activation, name=f"{name}_{activation}")(y)
    return y


class _Controls:
    """The control fields of one step, each sliced once."""

    def __init__(self, control, name):
        self.control, self.name, self.cache = control, name, {}

    def __getitem__(self, field):
        if field not in self.cache:
            self.cache[field] = ControlField(field, name=f"{self.name}__{field}")(self.control)
        return self.cache[field]

    def start_or_update(self, init, new, part):
        """``first * init + keep * new``: Eq. 1's ``o_0 = x_0``, then the recurrence."""
        a = Select(name=f"{self.name}__{part}_first")([init, self["first"]])
        b = Select(name=f"{self.name}__{part}_keep")([new, self["keep"]])
        return keras.layers.Add(name=f"{self.name}__{part}_out")([a, b])


def _gru_update(o, cand, z, name):
    """Eq. 3: ``(1 - z) * o + z * cand``."""
    keep = ops.Gate(name=f"{name}__hold")([o, OneMinus(name=f"{name}__one_minus_z")(z)])
    take = ops.Gate(name=f"{name}__take")([cand, z])
    return keras.layers.Add(name=f"{name}__update")([keep, take])


def _head(o, num_classes, dropout=0.0):
    """Global average pooling + FC on the state (the paper's classifier after the last step)."""
    p = keras.layers.GlobalAveragePooling2D(name="global_pool")(o)
    return ops.classifier(p, num_classes, dropout=dropout)


def _pool(x, name):
    """``(B, l, h*w, C) -> (B, 1, 1, C)``: the global average pooling the 1-D RNNs start from."""
    return keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}__pool")(x)


def fastgru_step(x, o, control, num_classes, *, reduction=4, dropout=0.0, name="fastgru"):
    """FAST-GRU (Eq. 4 gates, Eq. 3 update) on the spatio-temporal state ``o``.

    ``r'_t = ReLU(U_rx x_t + U_ro o_{t-1})``, ``r_t = sigmoid(W_r r'_t)`` (same for ``z``),
    ``o~_t = tanh(V_x x_t + V_o (r_t * o_{t-1}))``, ``o_t = (1 - z_t) o_{t-1} + z_t o~_t``;
    U: C -> C/r, W: C/r -> C, V: C -> C, all 1x1x1. Returns ``([o_t], logits)``.
    """
    c = x.shape[-1]
    hidden = max(1, c // int(reduction))
    ctl = _Controls(control, name)
    r = _add([_conv(x, hidden, f"{name}__u_rx"), _conv(o, hidden, f"{name}__u_ro", bias=False)],
             f"{name}__r_sum", "relu")
    r = _conv(r, c, f"{name}__w_r", activation="sigmoid")
    z = _add([_conv(x, hidden, f"{name}__u_zx"), _conv(o, hidden, f"{name}__u_zo", bias=False)],
             f"{name}__z_sum", "relu")
    z = _conv(z, c, f"{name}__w_z", activation="sigmoid")
    ro = ops.Gate(name=f"{name}__read")([o, r])
    cand = _add([_conv(x, c, f"{name}__v_x"), _conv(ro, c, f"{name}__v_o", bias=False)],
                f"{name}__cand", "tanh")
    new = _gru_update(o, cand, z, name)
    o = ctl.start_or_update(x, new, "state")
    return [o], _head(o, num_classes, dropout)


def gru_step(x, o, control, num_classes, *, dropout=0.0, name="gru"):
    """The GRU baseline (Eq. 2-3) on pooled features: gates ``sigmoid(G_x p + G_o o)``,
    candidate ``tanh(V_x p + V_o (r * o))``; state ``(B, 1, 1, C)``, ``o_0`` = pooled ``x_0``."""
    c = o.shape[-1]
    ctl = _Controls(control, name)
    p = _pool(x, name)
    r = _add([_conv(p, c, f"{name}__g_rx"), _conv(o, c, f"{name}__g_ro", bias=False)],
             f"{name}__r", "sigmoid")
    z = _add([_conv(p, c, f"{name}__g_zx"), _conv(o, c, f"{name}__g_zo", bias=False)],
             f"{name}__z", "sigmoid")
    ro = ops.Gate(name=f"{name}__read")([o, r])
    cand = _add([_conv(p, c, f"{name}__v_x"), _conv(ro, c, f"{name}__v_o", bias=False)],
                f"{name}__cand", "tanh")
    o = ctl.start_or_update(p, _gru_update(o, cand, z, name), "state")
    return [o], _head(o, num_classes, dropout)


def lstm_step(x, h, cell, control, num_classes, *, dropout=0.0, name="lstm"):
    """The LSTM baseline on pooled features: ``i, f, o = sigmoid(W p + U h)``,
    ``g = tanh(W_g p + U_g h)``, ``c' = f c + i g``, ``h' = o tanh(c')``; states ``h`` and
    ``c`` ``(B, 1, 1, C)``; ``h_0`` = pooled ``x_0``, ``c_0 = 0``."""
    d = h.shape[-1]
    ctl = _Controls(control, name)
    p = _pool(x, name)

    def gate(part, activation):
        return _add([_conv(p, d, f"{name}__w_{part}"), _conv(h, d, f"{name}__u_{part}", bias=False)],
                    f"{name}__{part}", activation)

    i, f, o, g = gate("i", "sigmoid"), gate("f", "sigmoid"), gate("o", "sigmoid"), gate("g", "tanh")
    cell_new = keras.layers.Add(name=f"{name}__cell")([
        ops.Gate(name=f"{name}__forget")([cell, f]), ops.Gate(name=f"{name}__write")([g, i])])
    squashed = keras.layers.Activation("tanh", name=f"{name}__cell_tanh")(cell_new)
    h_new = ops.Gate(name=f"{name}__emit")([squashed, o])
    h = ctl.start_or_update(p, h_new, "state_h")
    cell = Select(name=f"{name}__state_c_keep")([cell_new, ctl["keep"]])
    return [h, cell], _head(h, num_classes, dropout)


def concat_step(x, o, control, num_classes, *, dropout=0.0, name="concat"):
    """The Concat baseline, Eq. 5: ``ReLU(BN(W o_{t-1} + U x_t))`` - one 1x1x1 conv over
    ``[o, x]`` (Fig. 2a) with BN and ReLU, at full resolution."""
    c = x.shape[-1]
    ctl = _Controls(control, name)
    both = keras.layers.Concatenate(name=f"{name}__concat")([o, x])
    new = ops.spatial_conv(both, c, 1, norm=True, activation="relu", name=f"{name}__proj")
    o = ctl.start_or_update(x, new, "state")
    return [o], _head(o, num_classes, dropout)


def avgpool_step(x, mean, control, num_classes, *, name="avgpool"):
    """Average pooling of clip scores (Table 3 "Avg. pool"): ``s_t`` is the expensive or the
    cheap backbone's classifier on the pooled feature (1x1 convs ``classifier_expensive`` /
    ``classifier_cheap``, loaded from the trained backbones), ``mean_t = (1 - w) mean_{t-1} +
    w s_t`` with ``w = 1 / (t + 1)``."""
    ctl = _Controls(control, name)
    p = _pool(x, name)
    s_e = _conv(p, num_classes, "classifier_expensive")
    s_c = _conv(p, num_classes, "classifier_cheap")
    s = keras.layers.Add(name=f"{name}__score")([
        Select(name=f"{name}__pick_expensive")([s_e, ctl["expensive"]]),
        Select(name=f"{name}__pick_cheap")([s_c, ctl["cheap"]])])
    mean = keras.layers.Add(name=f"{name}__mean")([
        Select(name=f"{name}__old")([mean, ctl["decay"]]),
        Select(name=f"{name}__new")([s, ctl["weight"]])])
    logits = keras.layers.Reshape((num_classes,), name="logits")(mean)
    return [mean], logits


def state_shapes(kind, feature_shape, num_classes):
    """``[(name, shape without batch)]`` of the step's states for a feature ``(l, h*w, C)``."""
    l, hw, c = feature_shape
    if kind in ("fastgru", "concat"):
        return [("state", (l, hw, c))]
    if kind == "gru":
        return [("state", (1, 1, c))]
    if kind == "lstm":
        return [("state_h", (1, 1, c)), ("state_c", (1, 1, c))]
    if kind == "avgpool":
        return [("state", (1, 1, num_classes))]
    raise KvidError(f"aggregator {kind!r}: must be one of {', '.join(KINDS)}")


def build_step(kind, feature_shape, num_classes, *, reduction=4, dropout=0.0):
    """The step model of aggregator ``kind`` for features ``(l, h*w, C)`` (module text).

    Inputs ``[feature, *states, control]``, outputs ``[*states, logits]``, all named.
    """
    l, hw, c = (int(v) for v in feature_shape)
    feature = keras.Input((l, hw, c), name="feature")
    states = [keras.Input(shape, name=n) for n, shape in state_shapes(kind, (l, hw, c), num_classes)]
    control = keras.Input((1, 1, len(CONTROL_FIELDS)), name="control")
    if kind == "fastgru":
        new, logits = fastgru_step(feature, states[0], control, num_classes, reduction=reduction,
                                   dropout=dropout)
    elif kind == "gru":
        new, logits = gru_step(feature, states[0], control, num_classes, dropout=dropout)
    elif kind == "lstm":
        new, logits = lstm_step(feature, states[0], states[1], control, num_classes, dropout=dropout)
    elif kind == "concat":
        new, logits = concat_step(feature, states[0], control, num_classes, dropout=dropout)
    else:
        new, logits = avgpool_step(feature, states[0], control, num_classes)
    return keras.Model([feature, *states, control], [*new, logits], name=f"{kind}_step")


def step_state_names(step) -> list[str]:
    """Names of a step model's state inputs, in order."""
    return [t.name.split(":")[0] for t in step.inputs[1:-1]]


__all__ = [
    "KINDS", "ControlField", "Select", "OneMinus", "AllValuesQuantizeConfig",
    "UnitRangeQuantizeConfig", "fastgru_step", "gru_step", "lstm_step", "concat_step",
    "avgpool_step", "state_shapes", "build_step", "step_state_names",
]
