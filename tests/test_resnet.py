"""The shared 2-D ResNet (kvid.blocks.resnet, kvid.models.resnet): units, hooks, counts,
ImageNet weights from a Keras HDF5 file, C2D.

Also home of two helpers the EAC-Net and CT-Net tests share: learnable toy clips
(:func:`moving_squares`) and :func:`fit_fixed_batch`.
"""

import numpy as np
import pytest

from kvid import KvidError, models, ops
from kvid.analysis.count import count
from kvid.blocks import resnet as units
from kvid.keras import keras, tf
from kvid.models import resnet

# --------------------------------------------------------------------------- shared helpers

DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0), (0, 0))  # right, left, down, up, still


def moving_squares(n=16, frames=8, size=32, seed=0):
    """``n`` clips of a bright square moving right/left/down/up or standing still (label =
    index in DIRECTIONS, two or more clips per class) over a dim noisy background: only the
    temporal order tells right from left and up from down."""
    rng = np.random.default_rng(seed)
    side, speed = max(3, size // 6), max(1, size // 12)
    span = size - side - speed * (frames - 1)
    labels = np.arange(n) % len(DIRECTIONS)
    clips = rng.uniform(0, 40, (n, frames, size, size, 3)).astype(np.float32)
    for clip, label in zip(clips, labels):
        dy, dx = DIRECTIONS[label]
        y0 = rng.integers(0, span + 1) if dy else rng.integers(0, size - side + 1)
        x0 = rng.integers(0, span + 1) if dx else rng.integers(0, size - side + 1)
        if dy < 0:
            y0 += speed * (frames - 1)
        if dx < 0:
            x0 += speed * (frames - 1)
        for t in range(frames):
            y, x = y0 + dy * speed * t, x0 + dx * speed * t
            clip[t, y:y + side, x:x + side] = 230.0
    return clips, labels.astype(np.int32)


def fit_fixed_batch(model, clips, labels, max_steps=300, lr=3e-3, check_every=25):
    """Adam on one fixed batch; returns (training accuracy in inference mode, steps)."""
    opt = keras.optimizers.Adam(lr)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = tf.constant(clips), tf.constant(labels)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    accuracy, steps = 0.0, 0
    while steps < max_steps:
        for _ in range(check_every):
            step()
        steps += check_every
        accuracy = float(np.mean(model(x, training=False).numpy().argmax(-1) == labels))
        if accuracy >= 0.95:
            break
    return accuracy, steps


def fit_small_config(build):
    """The shared "small config fits a fixed batch" check: seed 0, 16 moving-square clips
    (8x32x32, 5 classes), ``build()`` the model, fit; returns (accuracy, steps)."""
    tf.keras.utils.set_random_seed(0)
    clips, labels = moving_squares(frames=8, size=32)
    return fit_fixed_batch(build(), clips, labels, max_steps=300)


def randomize_bn(model, rng):
    """Random BN parameters and statistics, so inference-mode BN is not the identity."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c),
                               rng.normal(0, 0.3, c), rng.uniform(0.5, 1.5, c)])


# --------------------------------------------------------------------------- units


def _folded(t, h, c, body):
    inp = keras.Input((t, h, h, c))
    return keras.Model(inp, body(ops.FoldTime()(inp)))


@pytest.mark.parametrize("block", ["bottleneck", "basic"])
def test_zero_init_unit_starts_as_identity(block):
    """With the branch's last BN at gamma 0, a unit with an identity shortcut is ReLU(x)."""
    c = 16 if block == "bottleneck" else 4
    model = _folded(2, 6, c, lambda x: units.residual_unit(x, 4, block, name="u"))
    x = np.abs(np.random.default_rng(0).normal(size=(1, 2, 6, 6, c))).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), x.reshape(2, 6, 6, c), atol=1e-6)


def test_strided_3x3_pads_like_pytorch():
    """A 3x3 stride-2 conv pads 1 on each side (PyTorch/Keras), not TF's 0-before/1-after."""
    model = _folded(1, 8, 3, lambda x: units.conv_bn(x, 5, 3, strides=2, activation=None, name="c"))
    x = np.random.default_rng(1).normal(size=(1, 1, 8, 8, 3)).astype(np.float32)
    kernel = model.get_layer("c").kernel.numpy()
    ref = tf.nn.conv2d(x[0], kernel, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]).numpy()
    ref /= np.sqrt(1 + ops.video.BN_EPSILON)  # a fresh BN: mean 0, variance 1
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)


def test_unit_stride_in_1x1_or_3x3():
    """stride_in puts the stride in the first 1x1 (Keras ResNet50) or the 3x3 (torchvision)."""
    for stride_in, stride_a, stride_b in (("1x1", (2, 2), (1, 1)), ("3x3", (1, 1), (2, 2))):
        model = _folded(1, 8, 16, lambda x: units.bottleneck(x, 8, strides=2, stride_in=stride_in,
                                                             name="u"))
        assert model.get_layer("u__conv_a").strides == stride_a
        assert model.get_layer("u__conv_b").strides == stride_b
        assert model.output_shape == (None, 4, 4, 32)


# --------------------------------------------------------------------------- backbone + hooks


def test_backbone_hooks_insert_and_replace():
    calls = []

    def halve(x, frames):
        calls.append(("insert", frames))
        return ops.temporal_pool(x, frames, 2, name="halve"), frames // 2

    def conv3x3(y, filters, *, frames, strides, name):
        calls.append(("replace", name, filters, frames, strides))
        return ops.spatial_conv(y, filters, 3, groups=2, norm=True, activation="relu",
                                name=f"{name}__custom")

    inputs, x = ops.video_input(4, 32)
    x, t = resnet.resnet_backbone(x, 4, depth=18, width=8, blocks=(1, 2, 1, 1),
                                  insert={"res3_1": halve}, replace_conv={"res3_2": conv3x3})
    model = keras.Model(inputs, x)
    assert t == 2 and model.output_shape == (None, 1, 1, 64)
    assert calls == [("insert", 4), ("replace", "res3_2", 16, 2, 1)]
    names = {layer.name for layer in model.layers}
    assert "res3_2__custom" in names and "res3_2__conv_a" not in names and "res3_2__conv_b" in names
    with pytest.raises(KvidError, match="res6_1"):
        resnet.resnet_backbone(ops.video_input(4, 32)[1], 4, depth=18, insert={"res6_1": halve})


def test_resnet50_matches_torchvision_counts():
    """One frame at 224x224, 1000 classes: torchvision's ResNet-50 (v1.5) has 25,557,032
    parameters and 4.09 GMACs."""
    result = count(models.build("c2d_r50", frames=1, size=224, num_classes=1000))
    assert result["params"] == 25_557_032
    assert result["gmacs"] == pytest.approx(4.089, abs=0.002)


def test_c2d_reference_row():
    """EAC-Net Table 2/5: C2D ResNet-50, 32x256x256, 400 classes: 172.7 G (reproduced 170.8)."""
    ref = models.get("c2d_r50").references[0]
    result = count(models.build("c2d_r50", frames=ref.frames, size=ref.size,
                                num_classes=ref.num_classes))
    assert result["gmacs"] == pytest.approx(ref.gmacs, rel=0.05)
    assert result["gmacs"] == pytest.approx(170.8, rel=0.002)


# --------------------------------------------------------------------------- ImageNet weights


def _random_keras_resnet50(path, size):
    """keras.applications.ResNet50 with every weight random (BN statistics and conv biases
    included), saved the way keras.applications' weight files are (HDF5)."""
    ref = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(size, size, 3))
    rng = np.random.default_rng(0)
    for layer in ref.layers:
        values = []
        for w in layer.weights:
            key = w.name.split("/")[-1].split(":")[0]
            shape = tuple(w.shape)
            if key == "kernel":
                values.append(rng.normal(0, np.sqrt(1.0 / np.prod(shape[:-1])), shape))
            elif key in ("gamma", "moving_variance"):
                values.append(rng.uniform(0.5, 1.5, shape))
            else:  # beta, moving_mean, bias
                values.append(rng.normal(0, 0.2, shape))
        if values:
            layer.set_weights([v.astype(np.float32) for v in values])
    ref.save_weights(path)
    return ref


def test_imagenet_weights_reproduce_keras_resnet50(tmp_path, capsys):
    """Loaded into C2D with the stride where Keras has it, the backbone computes exactly what
    keras.applications.ResNet50 computes on each (caffe-preprocessed) frame."""
    size, frames = 64, 2
    path = str(tmp_path / "resnet50.h5")
    ref = _random_keras_resnet50(path, size)
    model = models.build("c2d_r50", frames=frames, size=size, num_classes=3, stride_in="1x1",
                         weights=path)
    features = keras.Model(model.input, model.get_layer("res5_3__out").output)
    clip = np.random.default_rng(1).uniform(0, 255, (1, frames, size, size, 3)).astype(np.float32)
    want = ref.predict(keras.applications.resnet.preprocess_input(clip[0].copy()), verbose=0)
    got = features.predict(clip, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())

    # The default (stride in the 3x3) loads the same 53 convs; CT-Net's replaced 3x3s are skipped.
    default = models.build("c2d_r50", frames=frames, size=size, num_classes=3)
    capsys.readouterr()
    assert len(resnet.load_imagenet_weights(default, path)) == 53
    note = capsys.readouterr().err  # said once: the weights were trained striding in the 1x1
    assert note.count("kvid: note:") == 1 and "stride_in='1x1'" in note
    np.testing.assert_array_equal(default.get_layer("res4_2__conv_b").kernel.numpy(),
                                  ref.get_layer("conv4_block2_2_conv").kernel.numpy())
    ct = models.build("ctnet_r50", frames=frames, size=size, num_classes=3, ct_blocks=1)
    assert len(resnet.load_imagenet_weights(ct, path)) == 53 - 1  # res5_2's 3x3 is a CT-Module

    narrow = models.build("c2d_r50", frames=frames, size=size, num_classes=3, width=32,
                          blocks=(1, 1, 1, 1))
    with pytest.raises(KvidError, match="do not fit"):
        resnet.load_imagenet_weights(narrow, path)
    with pytest.raises(KvidError, match="no such weights file"):
        resnet.load_imagenet_weights(default, str(tmp_path / "missing.h5"))

