"""CT-Net (kvid.models.ctnet, kvid.blocks.ct_module): the paper's params/FLOPs rows, the
CT-Module against a 5-D reference written after the official code, the channel permutation
(int8 TRANSPOSE, no MACs), int8 export, fitting a batch."""

import numpy as np
import pytest
from test_resnet import fit_small_config, randomize_bn

from kvid import KvidError, models, ops
from kvid.analysis.count import count
from kvid.blocks.ct_module import ct_module, rotate_channels, tensorize
from kvid.keras import keras, tf
from kvid.models.ctnet import ct_units

EPS = ops.video.BN_EPSILON
SMALL = models.get("ctnet_r50").small

# --------------------------------------------------------------------------- reference rows

ROWS = models.get("ctnet_r50").references


@pytest.mark.parametrize("ref", ROWS, ids=[f"{r.frames}x{r.size}-{r.num_classes}" for r in ROWS])
def test_reference_row(ref):
    result = count(models.build("ctnet_r50", frames=ref.frames, size=ref.size,
                                num_classes=ref.num_classes))
    assert result["params"] / 1e6 == pytest.approx(ref.params_m, rel=0.03)
    if ref.gmacs is not None:
        assert result["gmacs"] == pytest.approx(ref.gmacs, rel=0.05)
        assert result["gmacs"] == pytest.approx(37.3, rel=0.02)  # REFERENCE_NUMBERS.md's reproduction


def test_tensorize():
    assert [tensorize(c, 2) for c in (64, 128, 256, 512)] == [(8, 8), (8, 16), (16, 16), (16, 32)]
    assert tensorize(256, 1) == (256,)
    assert tensorize(256, 3) == (4, 8, 8) and tensorize(512, 3) == (8, 8, 8)
    assert tensorize(64, 4) == (2, 2, 4, 4) and tensorize(256, 4) == (4, 4, 4, 4)
    assert tensorize(48, 2) == (6, 8)


def test_ct_units():
    blocks50 = (3, 4, 6, 3)
    assert ct_units(blocks50) == ("res5_2", "res4_2", "res4_4", "res4_6", "res3_2", "res3_4", "res2_2")
    assert ct_units(blocks50, 1) == ("res5_2",)
    assert set(ct_units(blocks50, 4)) == {"res5_2", "res4_2", "res4_4", "res4_6"}
    assert len(ct_units(blocks50, "all")) == 12 and len(ct_units((3, 4, 23, 3))) == 15
    with pytest.raises(KvidError):
        ct_units(blocks50, 13)


# --------------------------------------------------------------------------- CT-Module vs 5-D reference


def _gconv3d(x, kernel3d, groups):
    xs = tf.split(x, groups, axis=-1)
    ks = tf.split(kernel3d, groups, axis=-1)
    return tf.concat([tf.nn.conv3d(a, k, (1,) * 5, "SAME") for a, k in zip(xs, ks)], -1).numpy()


class _Ref:
    """The official ReshapeInteraction (Andy1621/CT-Net ops/reshape_block.py) on 5-D numpy
    tensors (B, T, H, W, C), with the Keras model's weights."""

    def __init__(self, model):
        self.m = model

    def conv(self, name, x, axis):  # axis: "s" 1xkxk, "t" kx1x1, "p" 1x1x1
        layer = self.m.get_layer(name)
        k = layer.kernel.numpy()
        k3 = {"s": k[None], "t": k[:, None], "p": k[None]}[axis]
        return _gconv3d(x, k3, layer.groups)

    def bn(self, name, x, relu=True):
        gamma, beta, mean, var = self.m.get_layer(name).get_weights()
        y = (x - mean) / np.sqrt(var + EPS) * gamma + beta
        return np.maximum(y, 0) if relu else y

    def excite(self, name, x, pooled, axis):
        a = self.bn(f"{name}_fc1_bn", self.conv(f"{name}_fc1", pooled, axis))
        return x * (1 / (1 + np.exp(-self.conv(f"{name}_fc2", a, axis))))

    def __call__(self, x, K, connection, te, pointwise, name="m"):
        c = x.shape[-1]
        layout = list(tensorize(c, K))
        for k in range(1, K + 1):
            p = f"{name}_{k}"
            s = self.bn(f"{p}_spatial_bn", self.conv(f"{p}_spatial", x, "s"))
            if te:
                s = self.excite(f"{p}_ste", s, s.mean(axis=1, keepdims=True), "s")
            t = self.bn(f"{p}_temporal_bn", self.conv(f"{p}_temporal", s if connection == "serial" else x, "t"))
            if te:
                t = self.excite(f"{p}_tte", t, t.mean(axis=(2, 3), keepdims=True), "t")
            y = t if connection == "serial" else s + t
            if te:
                y = self.excite(f"{p}_cte", y, y.mean(axis=(2, 3), keepdims=True), "p")
            if pointwise and k < K:
                y = self.bn(f"{p}_pointwise_bn", self.conv(f"{p}_pointwise", y, "p"))
            if K > 1:  # innermost sub-dimension becomes outermost
                y = y.reshape(*y.shape[:-1], c // layout[-1], layout[-1]).swapaxes(-1, -2).reshape(y.shape)
            layout = [layout[-1], *layout[:-1]]
            x = y
        return x


@pytest.mark.parametrize("K,connection,te,pointwise", [
    (2, "parallel", True, True), (2, "serial", True, True), (2, "parallel", False, False),
    (3, "parallel", True, True), (1, "parallel", True, False)])
def test_ct_module_matches_official_formulation(K, connection, te, pointwise):
    t, h, c = 4, 4, 16
    inp = keras.Input((t, h, h, c))
    out = ct_module(ops.FoldTime()(inp), t, K=K, connection=connection, te=te,
                    pointwise=pointwise, name="m")
    model = keras.Model(inp, out)
    randomize_bn(model, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(2, t, h, h, c)).astype(np.float32)
    want = _Ref(model)(x, K, connection, te, pointwise)
    got = model.predict(x, verbose=0).reshape(want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_rotate_channels_is_the_sub_dimension_transpose():
    inp = keras.Input((3, 2, 24))
    model = keras.Model(inp, rotate_channels(inp, 4, 6, name="rot"))
    x = np.random.default_rng(0).normal(size=(2, 3, 2, 24)).astype(np.float32)
    want = x.reshape(2, 3, 2, 4, 6).transpose(0, 1, 2, 4, 3).reshape(2, 3, 2, 24)
    np.testing.assert_array_equal(model.predict(x, verbose=0), want)
    assert not model.weights  # a permutation, not a conv


def test_permutation_adds_no_macs_or_params():
    """The permutation between sub-dimensions is data movement: with it (official layout) or
    folded away, params and MACs are identical, and no conv of the module is dense C x C but
    the point-wise one."""
    config = dict(frames=4, size=32, num_classes=5, **{**SMALL, "blocks": (2, 1, 1, 2)})
    model = models.build("ctnet_r50", **config)
    folded = count(models.build("ctnet_r50", fold_permutation=True, **config))
    a = count(model)
    assert (a["params"], a["macs"]) == (folded["params"], folded["macs"])
    permutes = [layer for layer in model.layers if isinstance(layer, keras.layers.Permute)]
    assert len(permutes) == 2 * 2  # K=2 rotations in each of the 2 CT-Blocks
    dense = [layer.name for layer in model.layers if "__ct_" in layer.name
             and isinstance(layer, keras.layers.Conv2D) and layer.groups == 1
             and layer.kernel.shape[-2] == layer.filters]
    assert dense and all(name.endswith("_pointwise") for name in dense)


# --------------------------------------------------------------------------- export and fit


@pytest.mark.e2e
def test_int8_export_small_config(tmp_path):
    """8 x 64 x 64, ResNet-18 layout at width 16 with one CT-Block (res2_2, C = 16 = 4 x 4):
    fully int8, rank <= 4, SQNR >= 20 dB; each sub-dimension permutation is one int8
    TRANSPOSE of a rank-4 tensor. (One block keeps the conversion short; the full small
    config, 4 CT-Blocks, exports the same way.)"""
    from kvid.export.preset import export_preset

    result = export_preset("ctnet_r50", tmp_path / "ct.tflite", frames=8, size=64, num_classes=5,
                           overrides={**SMALL, "blocks": (2, 1, 1, 1), "zero_init": False})
    report = result["audit"]
    assert report["ok"], report["problems"]
    transposes = [op for op in report["op_list"] if op["op"] == "TRANSPOSE"]
    assert len(transposes) == 2
    for op in transposes:
        assert op["inputs"][0]["dtype"] == op["outputs"][0]["dtype"] == "int8"
        assert len(op["inputs"][0]["shape"]) == 4
    assert report["gpu"]["ok"], report["gpu"]["problems"]  # the GPU delegate's per-op rules
    assert result["sqnr_db"] >= 20, result
    assert result["kernels"]["ok"], result["kernels"]  # XNNPACK and reference kernels agree


def test_small_config_fits_a_batch():
    accuracy, steps = fit_small_config(lambda: models.build("ctnet_r50", frames=8, size=32, num_classes=5, **SMALL))
    assert accuracy >= 0.9, (accuracy, steps)
