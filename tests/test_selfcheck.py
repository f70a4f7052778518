"""End-to-end self-check of the foundation: a net using every kvid.ops layer learns a
temporal task, goes through QAT and full-integer conversion, passes the audit, and the int8
TFLite file reproduces the QAT Keras model."""

import numpy as np
import pytest

from kvid.export.audit import audit
from kvid.export.convert import convert, write
from kvid.runtime.agreement import sqnr_db
from kvid import models, ops
from kvid.keras import keras, tf
from kvid.runtime import ClipModel

pytestmark = pytest.mark.e2e  # .ci/run runs these once more with oneDNN on

T, S = 8, 32
DIRECTIONS = [(0, 1), (0, -1), (1, 0), (-1, 0)]  # right, left, down, up


def moving_square_clips(n, seed):
    """Clips of a bright square moving in one of four directions over noise; the label is
    the direction, which no single frame shows."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(DIRECTIONS), n)
    clips = rng.uniform(0, 90, (n, T, S, S, 3)).astype(np.float32)
    for i, label in enumerate(labels):
        dy, dx = DIRECTIONS[label]
        size = int(rng.integers(5, 8))
        y0, x0 = rng.integers(10, S - 10 - size, 2)
        colour = rng.uniform(160, 255, 3)
        speed = int(rng.integers(1, 3))
        for t in range(T):
            y = int(np.clip(y0 + dy * speed * (t - T // 2), 0, S - size))
            x = int(np.clip(x0 + dx * speed * (t - T // 2), 0, S - size))
            clips[i, t, y:y + size, x:x + size] = colour
    return clips, labels.astype(np.int32)


def test_selfcheck_train_qat_int8_audit_and_parity(tmp_path):
    tf.keras.utils.set_random_seed(0)
    x_train, y_train = moving_square_clips(512, seed=1)
    x_test, y_test = moving_square_clips(200, seed=2)

    model = models.build("opscheck", num_classes=4, frames=T, size=S, width=8)
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=12, verbose=0)
    float_acc = model.evaluate(x_test, y_test, verbose=0)[1]
    assert float_acc >= 0.9, f"float model did not learn the direction task: {float_acc:.2f}"

    qat = ops.quantize_model(model)
    qat.compile(keras.optimizers.Adam(5e-4),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    qat.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
    qat_logits = qat.predict(x_test, verbose=0)

    path = write(convert(qat, "int8"), tmp_path / "opscheck_int8.tflite")
    report = audit(path)
    assert report["ok"], report["problems"]
    assert report["expect"] == "int8" and report["max_rank"] <= 4
    assert not report["float_ops"] and not report["flex_ops"] and not report["custom_ops"]

    runner = ClipModel(path)
    assert runner.input["dtype"] == np.int8
    scale, zero_point = runner.input["quantization"]
    assert abs(scale - 1.0) < 1e-6 and zero_point == -128  # the app only subtracts 128
    tflite_logits = np.stack([runner(clip) for clip in x_test])
    agreement = float(np.mean(tflite_logits.argmax(1) == qat_logits.argmax(1)))
    sqnr = sqnr_db(qat_logits, tflite_logits)
    print(f"\nself-check: float top-1 {float_acc:.3f}, QAT top-1 "
          f"{np.mean(qat_logits.argmax(1) == y_test):.3f}, int8 top-1 "
          f"{np.mean(tflite_logits.argmax(1) == y_test):.3f}, agreement {agreement:.3f}, "
          f"logits SQNR {sqnr:.1f} dB")
    assert agreement >= 0.99
    assert sqnr >= 20
