"""MF-Net (kvid.blocks.fiber, kvid.models.mfnet): the published params/GMACs (Table 1/2),
the unit and multiplexer layout, 2-D -> 3-D inflation, int8 export, fitting a batch."""

import numpy as np
import pytest
from test_resnet import fit_small_config, randomize_bn
from test_sevnet import export_small, grouped_convs

from kvid import KvidError, models, ops
from kvid.analysis.count import count
from kvid.blocks import fiber
from kvid.keras import keras
from kvid.models.mfnet import inflate

EPS = 1e-5

# --------------------------------------------------------------------------- published numbers

# REFERENCE_NUMBERS.md MF-Net rows, and MF-Net Table 1's "w/o multiplexer" ablation:
# (preset, frames, size, classes, overrides, params M, GMACs).
REFERENCE_ROWS = [
    ("mfnet3d", 16, 224, 400, {}, 8.0, 11.1),       # Table 2, N = 16
    ("mfnet2d", 1, 224, 1000, {}, 5.8, 0.861),      # Table 1, N = 16
    ("mfnet2d", 1, 224, 1000, {"multiplexer": False}, 4.5, 0.600),  # Table 1, w/o multiplexer
]


@pytest.mark.parametrize("name,frames,size,classes,overrides,paper_params,paper_gmacs",
                         REFERENCE_ROWS, ids=["mfnet3d", "mfnet2d", "mfnet2d-no-multiplexer"])
def test_reference_row(name, frames, size, classes, overrides, paper_params, paper_gmacs):
    c = count(models.build(name, num_classes=classes, frames=frames, size=size, **overrides))
    assert abs(c["params"] / 1e6 / paper_params - 1) <= 0.03, c["params"]
    assert abs(c["gmacs"] / paper_gmacs - 1) <= 0.05, c["gmacs"]


def test_registry_references_match_the_table():
    rows = {(name, r.frames, r.size, r.num_classes, r.params_m, r.gmacs)
            for name in ("mfnet3d", "mfnet2d") for r in models.get(name).references}
    assert rows == {row[:4] + row[5:] for row in REFERENCE_ROWS if not row[4]}


# --------------------------------------------------------------------------- units


def _small(name="mfnet3d", frames=8, size=32, num_classes=5, **overrides):
    return models.build(name, frames=frames, size=size, num_classes=num_classes,
                        **{**models.get(name).small, **overrides})


def test_network_layout():
    """Table 2: 3x5x5 stem + 1x3x3 max-pool, both spatial stride 2; the only temporal stride
    in conv2_1 (T -> T/2), spatial stride 2 in conv3_1, conv4_1, conv5_1; N-fiber grouped
    3x3x3 and 1x3x3 convs (the first unit of a stage: dense 1x1x1 conv_m2 + projection)."""
    m = _small(frames=8, size=64, depths=(2, 2, 2, 2))
    assert m.get_layer("conv1").kernel.shape == (5, 5, 3 * 3, 8)  # 3 taps x RGB
    assert m.get_layer("conv1__maxpool").output_shape == (None, 16, 16, 8)
    assert m.get_layer("conv2_1__conv_m1").strides == (1, 1)
    assert m.get_layer("conv2_1__conv_m1_taps").stride == 2
    assert m.get_layer("conv2_1__conv_w1_taps").stride == 2
    assert m.get_layer("conv2_1__add").output_shape == (None, 16, 16, 16)
    for stage, side in ((3, 8), (4, 4), (5, 2)):
        assert m.get_layer(f"conv{stage}_1__conv_m1").strides == (2, 2)
        assert m.get_layer(f"conv{stage}_1__conv_w1").strides == (2, 2)
        assert m.get_layer(f"conv{stage}_2__add").output_shape[1:3] == (side, side)
        assert m.get_layer(f"conv{stage}_2__conv_m1_taps").stride == 1
    unit = m.get_layer("conv3_2__conv_m1")  # 3x3x3, 32 -> 32, 4 fibers: 3 taps x 32/4 inputs
    assert unit.groups == 4 and unit.kernel.shape == (3, 3, 3 * 8, 32)
    assert m.get_layer("conv3_2__conv_m2").kernel.shape == (3, 3, 8, 32)
    assert m.get_layer("conv3_1__conv_m2").kernel.shape == (1, 1, 32, 32)
    assert m.get_layer("conv3_2__mux_i1").kernel.shape == (1, 1, 32, 8)  # width / 4
    assert m.get_layer("conv3_2__mux_i2").kernel.shape == (1, 1, 8, 32)
    # 8 frames -> 4 after conv2_1, kept to the end (the global pool sees T/2 frames).
    assert m.get_layer("pool_split").output_shape == (None, 4, 4, 128)
    with pytest.raises(ValueError):
        m.get_layer("conv3_1__conv_w1_taps")  # a purely spatial stride needs no taps


def test_fibers_and_multiplexer_options():
    """Eq. (2): N fibers cut the unit's connections by N; without the multiplexer the unit has
    no mux convs (Table 1 ablation)."""
    def unit_params(**options):
        m = _small(depths=(2, 1, 1, 1), **options)
        return sum(m.get_layer(f"conv2_2__conv_m{i}").count_params() for i in (1, 2))

    assert unit_params(fibers=2) == 2 * unit_params(fibers=4) == 4 * unit_params(fibers=8)
    plain = _small(multiplexer=False)
    assert not [layer for layer in plain.layers if "__mux" in layer.name]
    assert count(plain)["params"] < count(_small())["params"]
    with pytest.raises(KvidError, match="not divisible by fibers"):
        _small(fibers=3)


def test_multiplexer_matches_numpy():
    """Fig. 1(e): x + W2 relu(bn2(W1 relu(bn1(x)))), BN and ReLU before each 1x1x1 conv."""
    t, h, c = 2, 3, 8
    inp = keras.Input((t, h, h, c))
    m = keras.Model(inp, fiber.multiplexer(ops.FoldTime()(inp), t, 2, name="u"))
    randomize_bn(m, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(2, t, h, h, c)).astype(np.float32)

    def bn_relu(name, z):
        gamma, beta, mean, var = m.get_layer(name).get_weights()
        return np.maximum((z - mean) / np.sqrt(var + EPS) * gamma + beta, 0)

    z = bn_relu("u__mux_i1_pre_bn", x) @ m.get_layer("u__mux_i1").kernel.numpy()[0, 0]
    z = bn_relu("u__mux_i2_pre_bn", z) @ m.get_layer("u__mux_i2").kernel.numpy()[0, 0]
    np.testing.assert_allclose(m(x, training=False).numpy(), (x + z).reshape(-1, h, h, c),
                               rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- inflation


def test_inflated_net_reproduces_the_2d_net_on_a_still_video():
    """Sec. 3.3 / 4.1: the 3-D net initialised from the 2-D one (kernels repeated over time
    and divided by k_t) gives, on a video of one repeated frame, the 2-D net's features for
    every frame the temporal zero padding does not reach (each 3-tap conv reaches one frame
    further in from each end: 1 + sum(depths) convs)."""
    depths, frames = (2, 2, 2, 2), 48
    options = dict(size=32, depths=depths)
    net2d = _small("mfnet2d", frames=1, num_classes=7, **options)
    randomize_bn(net2d, np.random.default_rng(0))
    net3d = _small("mfnet3d", frames=frames, num_classes=5, **options)
    fc_before = net3d.get_layer("fc").kernel.numpy()
    assert inflate(net2d, net3d) is net3d

    kernel2d = net2d.get_layer("conv2_2__conv_m1").kernel.numpy()
    np.testing.assert_allclose(net3d.get_layer("conv2_2__conv_m1").kernel.numpy(),
                               np.tile(kernel2d, (1, 1, 3, 1)) / 3, rtol=1e-6)
    np.testing.assert_array_equal(net3d.get_layer("fc").kernel.numpy(), fc_before)

    image = np.random.default_rng(1).uniform(0, 255, (1, 1, 32, 32, 3)).astype(np.float32)
    video = np.repeat(image, frames, axis=1)
    features = [keras.Model(n.input, n.get_layer("tail_relu").output) for n in (net2d, net3d)]
    want = features[0](image, training=False).numpy()[0]
    got = features[1](video, training=False).numpy()  # (frames / 2, h, w, c)
    reach = 1 + sum(depths)
    clean = got[reach:len(got) - reach]
    assert len(clean) >= 4
    scale = np.abs(want).max()
    np.testing.assert_allclose(clean, np.broadcast_to(want, clean.shape), atol=1e-4 * scale)
    assert np.abs(got[0] - want).max() > 1e-2 * scale  # the border frames do differ


def test_inflate_refuses_other_architectures():
    with pytest.raises(KvidError, match="no counterpart|cannot inflate|shapes"):
        inflate(_small("mfnet2d", frames=1, fibers=2), _small("mfnet3d", widths=(32, 64, 128, 256)))


# --------------------------------------------------------------------------- export and fit


@pytest.mark.slow
@pytest.mark.e2e
def test_int8_export_small_config(tmp_path):
    """4 fibers, widths 16..128, an identity unit in conv2: fully int8. Every pre-activation
    BN+ReLU that follows a sum lowers to one int8 DEPTHWISE_CONV_2D (the rest fold into the
    conv before them); grouped 3x3x3 convs are one grouped CONV_2D over stacked taps."""
    result = export_small("mfnet3d", tmp_path / "mfnet3d.tflite", depths=(2, 1, 1, 1))
    report = result["audit"]
    # 1 input normalisation, the tail, per unit the BN-ReLU before the multiplexer and the one
    # before conv_m1, and in the first units the shortcut's (which the converter merges with
    # the multiplexer's while both BNs still hold the same statistics of the same input).
    assert 1 + 5 * 2 + 1 <= report["ops"]["DEPTHWISE_CONV_2D"] <= 1 + 5 * 2 + 4 + 1
    assert "MUL" not in report["ops"]
    # conv_m1 of every unit and conv_m2 of the identity unit
    assert len(grouped_convs(report)) == 5 + 1


def test_small_config_fits_a_batch():
    accuracy, steps = fit_small_config(lambda: _small(frames=8, size=32))
    assert accuracy >= 0.9, (accuracy, steps)
