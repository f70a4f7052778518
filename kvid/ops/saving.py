"""Saving and loading kvid models as ``.keras`` files, QAT models included.

A float kvid model is an ordinary ``.keras`` file (``keras.models.load_model`` opens it with
kvid imported). A QAT model (tfmot 0.8 on tf_keras) is not: the ``.keras`` weight file
addresses tfmot's wrappers by auto-generated names (``quantize_wrapper_v2_N``) whose order
differs between saving and loading, so weights land in the wrong wrapper. kvid therefore adds
a member ``kvid_weights.npz`` to the same zip, keyed by layer name, and :func:`load_model`
restores from it. One file, one loader, for every kvid model.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from kvid import KvidError
from kvid.keras import keras

WEIGHTS_MEMBER = "kvid_weights.npz"


def save_model(model, path) -> str:
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise KvidError(f"{path}: kvid saves models as .keras files")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp_file = path[: -len(".keras")] + ".partial.keras"
    model.save(tmp_file)
    arrays = {}
    for layer in model.layers:
        for key, w in zip(_weight_keys(layer), layer.weights):
            arrays[key] = w.numpy()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(tmp_file, "a") as zf:
        zf.writestr(WEIGHTS_MEMBER, buf.getvalue())
    os.replace(tmp_file, path)  # a half-written file never takes the final name
    return path


def load_model(path, compile=False):
    """Load a ``.keras`` file written by :func:`save_model` (or plain Keras, float models)."""
    from kvid.ops.quantize import quantize_scope

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KvidError(f"{path}: no such file")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise KvidError(f"{path}: not a .keras model file") from None
    with zf, quantize_scope():
        names = set(zf.namelist())
        if "config.json" not in names:
            raise KvidError(f"{path}: not a .keras model file (no config.json)")
        if WEIGHTS_MEMBER not in names:
            return keras.models.load_model(path, compile=compile)
        config = json.loads(zf.read("config.json"))
        model = keras.models.model_from_json(json.dumps(config))
        with np.load(io.BytesIO(zf.read(WEIGHTS_MEMBER))) as arrays:
            for layer in model.layers:
                keys = _weight_keys(layer)
                if keys and keys[0] not in arrays and f"{layer.name}/0" in arrays:
                    keys = [f"{layer.name}/{i}" for i in range(len(keys))]  # kvid 0.1 files
                for key, w in zip(keys, layer.weights):
                    if key not in arrays:
                        raise KvidError(f"{path}: no saved value for {key}")
                    w.assign(arrays[key])
    return model


def _weight_keys(layer):
    """``layer/variable`` keys, independent of weight order (trainable flags reorder a
    layer's weights) and of name scopes (which differ between a built and a loaded model)."""
    keys, seen = [], {}
    for w in layer.weights:
        short = w.name.split("/")[-1].split(":")[0]
        n = seen[short] = seen.get(short, -1) + 1
        keys.append(f"{layer.name}/{short}" + (f"#{n}" if n else ""))
    return keys
