"""EAC-Net (kvid.models.eacnet, kvid.blocks.mgte, kvid.blocks.ate): the paper's FLOPs rows and
ablation deltas, MGTE (Eq. 1-5) and ATE (Eq. 6) against numpy, int8 export, fitting a batch."""

import functools

import numpy as np
import pytest
from test_resnet import fit_small_config, randomize_bn

from kvid import KvidError, models, ops
from kvid.analysis.count import count
from kvid.blocks.ate import ate
from kvid.blocks.mgte import mgte
from kvid.keras import keras

EPS = ops.video.BN_EPSILON


@functools.lru_cache(maxsize=None)
def _count(name, frames, size, classes, **overrides):
    return count(models.build(name, frames=frames, size=size, num_classes=classes, **overrides))


def _gmacs(name="eacnet_r50", frames=32, size=256, classes=400, **overrides):
    return _count(name, frames, size, classes, **overrides)["gmacs"]


# --------------------------------------------------------------------------- reference rows

ROWS = [(name, ref) for name in ("eacnet_r50", "eacnet_r101", "eacnet_r152")
        for ref in models.get(name).references
        if name == "eacnet_r50" or ref.frames == 32]  # deeper 48-frame rows: same code, slower


@pytest.mark.parametrize("name,ref", ROWS, ids=[f"{n}-{r.frames}x{r.size}-{r.num_classes}" for n, r in ROWS])
def test_reference_gmacs(name, ref):
    assert _gmacs(name, ref.frames, ref.size, ref.num_classes) == pytest.approx(ref.gmacs, rel=0.05)


def test_reproduced_numbers():
    """REFERENCE_NUMBERS.md's independent reproductions (129.4 / 194.1 / 99.1) to 0.1%."""
    assert _gmacs() == pytest.approx(129.4, rel=1e-3)
    assert _gmacs(frames=48) == pytest.approx(194.1, rel=1e-3)
    assert _gmacs(size=224, classes=174) == pytest.approx(99.1, rel=1e-3)


@pytest.mark.parametrize("units,paper", [(("res3_1",), 112.9), (("res3_1", "res4_1", "res5_1"), 91.9)])
def test_table2_mgte_locations(units, paper):
    """Table 2 (w/o ATE; res4_1 alone 134.5 and res5_1 alone 165.3 count the same way)."""
    assert _gmacs(ate=False, mgte_at=units) == pytest.approx(paper, rel=0.05)


def test_table3_pool_only_delta():
    """Table 3: the relation branch costs 130.8 - 128.2 = 2.6 G (w/o ATE)."""
    delta = _gmacs(ate=False) - _gmacs(ate=False, branches="pool")
    assert delta == pytest.approx(130.8 - 128.2, abs=0.5)


def test_table5_ate_deltas():
    """Table 5: ATE adds 0.3 G to EAC-Net (130.8 -> 131.1) and 0.9 G to C2D (172.7 -> 173.6)."""
    assert _gmacs() - _gmacs(ate=False) == pytest.approx(0.3, abs=0.5)
    assert _gmacs(mgte_at=()) - _gmacs("c2d_r50") == pytest.approx(0.9, abs=0.5)


def test_mgte_blocks_halve_time():
    """Table 1: T -> T/2 after Res4_1 and -> T/4 after Res5_1; d = C/8; ATE sees T/4."""
    model = models.build("eacnet_r50", frames=8, size=32, num_classes=5,
                         **models.get("eacnet_r50").small)
    outputs = [model.get_layer(n).output for n in ("res4_1__out", "mgte4__add", "mgte5__add")]
    shapes = [y.shape for y in keras.Model(model.input, outputs)(np.zeros((1, 8, 32, 32, 3)))]
    assert [s[0] for s in shapes] == [8, 4, 2]
    assert model.get_layer("mgte4__reduce").filters == 64 // 8
    assert model.get_layer("mgte5__reduce").filters == 128 // 8
    with pytest.raises(KvidError, match="divisible by 4"):
        models.build("eacnet_r50", frames=6, size=32, num_classes=5)


# --------------------------------------------------------------------------- blocks vs numpy


def _bn(model, name, z):
    gamma, beta, mean, var = model.get_layer(name).get_weights()
    return (z - mean) / np.sqrt(var + EPS) * gamma + beta


def _conv1x1(model, name, z):
    layer = model.get_layer(name)
    out = z @ layer.kernel.numpy()[0, 0]
    return out + layer.bias.numpy() if layer.use_bias else out


def _relu(z):
    return np.maximum(z, 0)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _block_model(t, h, c, body, seed=0):
    inp = keras.Input((t, h, h, c))
    model = keras.Model(inp, body(ops.FoldTime()(inp)))
    randomize_bn(model, np.random.default_rng(seed))
    x = np.random.default_rng(seed + 1).normal(size=(2, t, h, h, c)).astype(np.float32)
    return model, x, model.predict(x, verbose=0)


def _mgte_reference(m, x, gate, branches):
    """EAC-Net Eq. 1-5 in numpy on (B, T, H, W, C)."""
    pool = np.maximum(x[:, 0::2], x[:, 1::2])
    if branches == "pool":
        return pool
    x_d = _relu(_bn(m, "m__reduce_bn", _conv1x1(m, "m__reduce", x)))
    even, odd = x_d[:, 0::2], x_d[:, 1::2]
    rel = _relu(_bn(m, "m__relation_bn", _conv1x1(m, "m__relation", np.concatenate([even, odd], -1))))
    if gate != "none":
        g_in = np.abs(even - odd)
        if gate == "context":
            context = np.broadcast_to(x_d.mean(axis=1, keepdims=True), g_in.shape)
            g_in = np.concatenate([g_in, context], -1)
        rel = rel * _sigmoid(_bn(m, "m__gate_bn", _conv1x1(m, "m__gate", g_in)))
    rel = _bn(m, "m__expand_bn", _conv1x1(m, "m__expand", rel))
    return rel if branches == "relation" else pool + rel


@pytest.mark.parametrize("gate,branches", [("context", "both"), ("gradient", "both"),
                                           ("none", "both"), ("context", "pool"),
                                           ("context", "relation")])
def test_mgte_matches_equations(gate, branches):
    t, h, c, d = 4, 3, 12, 4
    m, x, got = _block_model(t, h, c, lambda y: mgte(y, t, d, gate=gate, branches=branches,
                                                     zero_init=False, name="m")[0])
    want = _mgte_reference(m, x, gate, branches)
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-4, atol=1e-4)


def test_mgte_relation_branch_starts_at_zero():
    """zero_init: the block starts as a temporal max-pool, the net as C2D (+ pooling)."""
    inp = keras.Input((6, 3, 3, 8))
    model = keras.Model(inp, mgte(ops.FoldTime()(inp), 6, 4, name="m")[0])
    x = np.random.default_rng(0).normal(size=(2, 6, 3, 3, 8)).astype(np.float32)
    want = np.maximum(x[:, 0::2], x[:, 1::2]).reshape(6, 3, 3, 8)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-6)


def _ate_reference(m, x, d_rates=(1, 2, 3)):
    """EAC-Net Eq. 6 in numpy on (B, T, H, W, C) -> (B, C)."""
    f_s = x.mean(axis=(2, 3))  # (B, T, C)
    t = f_s.shape[1]
    parts = []
    for rate in d_rates:
        kernel = m.get_layer(f"ate__atrous{rate}").kernel.numpy()[:, 0]  # (3, C, d)
        padded = np.pad(f_s, ((0, 0), (rate, rate), (0, 0)))
        z = sum(padded[:, k * rate:k * rate + t] @ kernel[k] for k in range(3))
        parts.append(_relu(_bn(m, f"ate__atrous{rate}_bn", z)))
    g = _relu(_bn(m, "ate__global_bn", _conv1x1(m, "ate__global", f_s.mean(axis=1, keepdims=True))))
    parts.append(np.broadcast_to(g, parts[0].shape))
    t_out = f_s + _conv1x1(m, "ate__expand", np.concatenate(parts, -1))
    return t_out.mean(axis=1)


def test_ate_matches_equation6():
    t, h, c, d = 5, 2, 6, 4
    m, x, got = _block_model(t, h, c, lambda y: ate(y, t, d, zero_init=False), seed=3)
    np.testing.assert_allclose(got, _ate_reference(m, x), rtol=1e-4, atol=1e-4)


def test_ate_starts_as_temporal_average():
    t, h, c = 4, 2, 6
    _, x, got = _block_model(t, h, c, lambda y: ate(y, t, 4))
    np.testing.assert_allclose(got, x.mean(axis=(1, 2, 3)), atol=1e-5)


# --------------------------------------------------------------------------- export and fit


@pytest.mark.e2e
def test_int8_export_small_config(tmp_path):
    """8 x 64 x 64, ResNet-18-layout width 16: fully int8, rank <= 4, SQNR >= 20 dB; the MGTE's
    |X_2t - X_2t+1| is int8 SUB, SUB, ADD (relu(a - b) + relu(b - a): no ABS, which XNNPACK
    does not run), the temporal means int8 MEAN (no AVERAGE_POOL_2D), the broadcast mean int8
    TILE."""
    from kvid.export.preset import export_preset

    overrides = {**models.get("eacnet_r50").small, "zero_init": False}
    result = export_preset("eacnet_r50", tmp_path / "eac.tflite", frames=8, size=64, num_classes=5,
                           overrides=overrides)
    report = result["audit"]
    assert report["ok"], report["problems"]
    assert report["max_rank"] <= 4 and not report["float_ops"]
    for op in ("SUB", "MEAN", "TILE", "LOGISTIC", "MUL", "MAX_POOL_2D"):
        assert op in report["ops"], op
    assert "ABS" not in report["ops"] and "AVERAGE_POOL_2D" not in report["ops"], report["ops"]
    assert report["gpu"]["ok"], report["gpu"]["problems"]  # the GPU delegate's per-op rules
    assert result["sqnr_db"] >= 20, result
    assert result["kernels"]["ok"], result["kernels"]  # XNNPACK and reference kernels agree


def test_small_config_fits_a_batch():
    accuracy, steps = fit_small_config(lambda: models.build(
        "eacnet_r50", frames=8, size=32, num_classes=5, **models.get("eacnet_r50").small))
    assert accuracy >= 0.9, (accuracy, steps)
