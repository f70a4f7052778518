"""Quantisation variants as JSON recipes, and the files they make.

A :class:`Recipe` names everything a variant depends on, so ``recipe.json`` beside a result
re-creates it exactly (same model, same calibration clips by ``seed`` and
``calibration_clips``). ``kind`` says which library makes the file:

- ``convert``: :func:`kvid.export.convert.convert` on the float model - ``float32``,
  ``float16``, ``dynamic``, ``int8`` (the converter's PTQ) and ``int16x8`` (its 16x8 op set);
  ``per_channel=False`` for per-tensor weights;
- ``qat``: a QAT model through the same converter, int8: ``qat_from="run"`` the run's
  (``RUN/qat.keras``, calibrated by ``kvid qat``: min/max), ``qat_from="float"`` one made here
  from the run's float model - BN folded, ranges calibrated on ``calibration_clips`` training
  clips with the range method ``ranges`` (:func:`kvid.ops.calibrate`), then ``qat_epochs`` of
  QAT fine-tuning (Adam 1e-5, as ``kvid qat``; 0: calibration only);
- ``aeq``: Google's ai-edge-quantizer on the float32 file: static ``int8`` or ``int16x8``
  (``activation_bits``), ``mixed`` (``int16_layers`` / ``float_layers`` / ``only_layers``:
  regular expressions over kvid layer names), weights of ``weight_bits`` (8 or 4: int4 weights
  need ``mode="dynamic"``, float activations - ai-edge-litert has no int8-activation kernel for
  int4 weights), ``per_channel``, and activation ranges ``ranges``: ``minmax`` (the global
  min/max over the calibration clips, as the TFLite converter's), ``percentile:P`` or ``mse``
  (kvid fits each tensor's range once to its values on the float file over all calibration
  clips pooled, :class:`kvid.ranges.Pool`, and hands the ranges to the library as its
  calibration result; the graph input keeps its min/max), or ``ema`` (kind ``aeq`` only:
  ai-edge-quantizer's own calibration, a moving average with smoothing 0.95 of each clip's
  min/max - roughly one typical clip's range, not the calibration set's); ``range_scale``
  multiplies the ranges of the layers matching each pattern (fault injection: a range 100x too
  narrow);
- ``qat-sim``: QAT in Keras with tfmot's n-bit scheme (``weight_bits``/``activation_bits`` below
  8), calibrated with ``ranges``: a simulation only, no TFLite file - no converter or kernel
  takes those weights.

``ranges`` means the same method in every kind that takes it (one definition, :mod:`kvid.ranges`;
QAT calibration averages the ranges of batches of clips, ``aeq`` fits one over all clips); the
``convert`` kind has none (the TFLite converter's calibrator records min/max).

TensorFlow is needed for ``convert``/``qat``/``qat-sim``; ``aeq`` works on the float32 file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np

from kvid import KvidError
from kvid import ranges as ranges_mod

KINDS = ("convert", "qat", "aeq", "qat-sim")
QAT_FROM = ("run", "float")
#: the audit expectation of each declared mode (kvid.export.audit.EXPECTATIONS)
EXPECT = {"int8": "int8", "int16x8": "int16x8", "mixed": "mixed", "float32": "float",
          "float16": "float", "dynamic": "float", "none": None}
RANGE_METHODS = ranges_mod.METHODS
#: ``ranges`` value of an ``aeq`` recipe that keeps ai-edge-quantizer's own calibration
#: (moving average of per-clip min/max) instead of kvid's ranges over all calibration clips
LIBRARY_RANGES = "ema"


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    kind: str = "convert"
    mode: str = "int8"
    activation_bits: int = 8
    weight_bits: int = 8
    per_channel: bool = True
    int16_layers: str | None = None
    float_layers: str | None = None
    only_layers: str | None = None
    ranges: str = "minmax"
    calibration_clips: int = 64
    range_scale: dict = dataclasses.field(default_factory=dict)
    qat_epochs: int = 1
    qat_from: str = "run"
    seed: int = 0
    note: str = ""

    def __post_init__(self):
        where = f"recipe {self.name!r}"
        if self.kind not in KINDS:
            raise KvidError(f"{where}: kind={self.kind!r} must be one of {', '.join(KINDS)}")
        if self.mode not in EXPECT:
            raise KvidError(f"{where}: mode={self.mode!r} must be one of {', '.join(EXPECT)}")
        if self.ranges == LIBRARY_RANGES:
            if self.kind != "aeq":
                raise KvidError(f"{where}: ranges={self.ranges!r} (ai-edge-quantizer's own moving-average "
                                "calibration) needs kind 'aeq'")
        else:
            try:
                ranges_mod.parse(self.ranges)
            except KvidError as exc:
                raise KvidError(f"{where}: {exc} (or 'ema' for kind 'aeq')") from None
        if self.qat_from not in QAT_FROM or (self.qat_from != "run" and self.kind != "qat"):
            raise KvidError(f"{where}: qat_from={self.qat_from!r}: 'run' or 'float', for kind 'qat' only")
        if self.kind != "aeq" and (self.range_scale or self.int16_layers or self.float_layers or self.only_layers):
            raise KvidError(f"{where}: range_scale and layer patterns need kind 'aeq' "
                            "(the TFLite converter and QAT quantize every layer)")
        if self.ranges != "minmax" and (self.kind == "convert" or (self.kind == "qat" and self.qat_from == "run")):
            raise KvidError(f"{where}: ranges={self.ranges!r} needs kind 'aeq', 'qat' with qat_from 'float', or "
                            "'qat-sim' (the TFLite converter and the run's qat.keras calibrate by min/max)")
        if self.calibration_clips < 1 or self.qat_epochs < 0:
            raise KvidError(f"{where}: calibration_clips must be >= 1 and qat_epochs >= 0")
        if self.kind == "convert" and self.mode == "mixed":
            raise KvidError(f"{where}: mode 'mixed' needs kind 'aeq' (layer patterns)")
        if self.kind == "qat" and self.mode != "int8":
            raise KvidError(f"{where}: a QAT model converts to int8 only")
        if self.kind == "aeq" and self.weight_bits == 4 and self.mode != "dynamic":
            raise KvidError(f"{where}: int4 weights run with float activations only (mode 'dynamic')")
        if self.kind == "qat-sim" and self.mode != "none":
            raise KvidError(f"{where}: a qat-sim recipe makes no file; its mode is 'none'")
        for pattern in (self.int16_layers, self.float_layers, self.only_layers, *self.range_scale):
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise KvidError(f"{where}: bad layer pattern {pattern!r} ({exc})") from None

    @property
    def expect(self):
        return EXPECT[self.mode]

    @property
    def makes_file(self) -> bool:
        return self.kind != "qat-sim"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data, where="recipe") -> "Recipe":
        if not isinstance(data, dict):
            raise KvidError(f"{where}: a recipe must be a JSON object")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise KvidError(f"{where}: unknown recipe field(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
        if "name" not in data:
            raise KvidError(f"{where}: a recipe needs a name")
        try:
            return cls(**data)
        except TypeError as exc:
            raise KvidError(f"{where}: {exc}") from None

    def save(self, path) -> str:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2)
            fh.write("\n")
        return os.fspath(path)


def load_recipes(path) -> list[Recipe]:
    """Recipes from a JSON file: one object, or a list of them."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise KvidError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise KvidError(f"{path}: not JSON ({exc})") from None
    items = data if isinstance(data, list) else [data]
    return [Recipe.from_dict(item, f"{path}[{i}]") for i, item in enumerate(items)]


def _qat_recipe(ranges: str, epochs: int) -> Recipe:
    method = ranges.split(":")[0]
    what = {"minmax": "min/max", "percentile": f"percentile {ranges.partition(':')[2]}", "mse": "MSE"}[method]
    return Recipe(f"qat_calib_{method}" if epochs == 0 else f"qat_{method}", "qat", "int8", qat_from="float",
                  qat_epochs=epochs, calibration_clips=320, ranges=ranges,
                  note=f"QAT calibration only, {what}" if epochs == 0 else f"{what} calibration + {epochs} QAT epoch")


#: the sweep's default set (``kvid quant sweep`` without ``--recipes``)
DEFAULT_RECIPES = (
    Recipe("float32", "convert", "float32"),
    Recipe("float16", "convert", "float16"),
    Recipe("dynamic", "convert", "dynamic"),
    Recipe("ptq_int8", "convert", "int8", note="TFLite converter PTQ"),
    Recipe("ptq_int8_per_tensor", "convert", "int8", per_channel=False),
    Recipe("qat_int8", "qat", "int8", note="the run's QAT model"),
    # QAT made here from the float model, one per range method: calibration alone (0 epochs),
    # then with one epoch of QAT fine-tuning; 320 calibration clips as `kvid qat` (20 x 16)
    *(_qat_recipe(ranges, epochs) for epochs in (0, 1) for ranges in ("minmax", "percentile:99.99", "mse")),
    Recipe("int16x8", "convert", "int16x8", note="converter 16x8 op set"),
    Recipe("aeq_int8", "aeq", "int8", note="ai-edge-quantizer, min/max over the calibration clips"),
    Recipe("aeq_int8_ema", "aeq", "int8", ranges=LIBRARY_RANGES,
           note="ai-edge-quantizer's own calibration: moving average of per-clip min/max"),
    Recipe("aeq_int8_percentile", "aeq", "int8", ranges="percentile:99.99"),
    Recipe("aeq_int8_mse", "aeq", "int8", ranges="mse"),
    Recipe("aeq_int16x8", "aeq", "int16x8", activation_bits=16),
    Recipe("aeq_w4_dynamic", "aeq", "dynamic", weight_bits=4, note="int4 weights, float activations"),
    Recipe("qat_sim_w4a8", "qat-sim", "none", weight_bits=4, note="simulation only, no file"),
)


def default_recipes(mixed_layers: str | None = None) -> list[Recipe]:
    """:data:`DEFAULT_RECIPES`, plus a mixed int8/int16 variant when ``mixed_layers`` is given."""
    recipes = list(DEFAULT_RECIPES)
    if mixed_layers:
        recipes.append(Recipe("aeq_mixed", "aeq", "mixed", int16_layers=mixed_layers,
                              note=f"int16 activations at {mixed_layers}"))
    return recipes


# -- ai-edge-quantizer --------------------------------------------------------------------------
def layer_regex(pattern: str) -> str:
    """A kvid layer-name pattern as a regular expression over TFLite tensor names (which
    ai-edge-quantizer matches): ``res5.*`` -> the tensors of any layer whose name matches."""
    return rf"(^|/|;)(quant_)?(?:{pattern})(/|;|$)"


def aeq_recipe(recipe: Recipe) -> list[dict]:
    """The ai-edge-quantizer recipe (a list of ``{regex, operation, algorithm_key, op_config}``;
    later entries win) for a kvid recipe of kind ``aeq``."""
    weights = {"num_bits": recipe.weight_bits, "symmetric": True, "dtype": "INT",
               "granularity": "CHANNELWISE" if recipe.per_channel else "TENSORWISE"}

    def static(bits, regex):
        return {"regex": regex, "operation": "*", "algorithm_key": "min_max_uniform_quantize",
                "op_config": {"activation_tensor_config": {"num_bits": bits, "symmetric": bits == 16,
                                                           "granularity": "TENSORWISE", "dtype": "INT"},
                              "weight_tensor_config": dict(weights), "compute_precision": "INTEGER",
                              "explicit_dequantize": False, "skip_checks": False, "min_weight_elements": 0}}

    if recipe.mode in ("float32", "float16", "none"):
        raise KvidError(f"recipe {recipe.name!r}: kind 'aeq' makes int8, int16x8, mixed or dynamic files")
    base = layer_regex(recipe.only_layers) if recipe.only_layers else ".*"
    if recipe.mode == "dynamic":
        return [{"regex": base, "operation": "*", "algorithm_key": "min_max_uniform_quantize",
                 "op_config": {"weight_tensor_config": dict(weights), "compute_precision": "INTEGER",
                               "explicit_dequantize": False, "skip_checks": False, "min_weight_elements": 0}}]
    entries = [static(recipe.activation_bits, base)]
    if recipe.int16_layers:
        entries.append(static(16, layer_regex(recipe.int16_layers)))
    if recipe.float_layers:
        entries.append({"regex": layer_regex(recipe.float_layers), "operation": "*", "algorithm_key": "no_quantize"})
    return entries


def _signature(path):
    from kvid.runtime.interpreter import load_interpreter

    signatures = load_interpreter(path).get_signature_list()
    key = next(iter(signatures))
    return key, signatures[key]["inputs"][0]


def calibration_result(recipe: Recipe, float_path, clips) -> dict:
    """The calibration result (``{tensor name: {"min", "max"}}``) that ai-edge-quantizer
    quantizes ``float_path`` with, from ``clips``: the range of each tensor that the recipe's
    method fits to its values over all the clips pooled (:class:`kvid.ranges.Pool`; the graph
    input: its min/max) - or, for ``ranges="ema"``, the library's own calibration - with
    ``range_scale`` applied."""
    from ai_edge_quantizer import quantizer

    from kvid.export.audit import layer_of
    from kvid.quant.graph import TensorReader

    q = quantizer.Quantizer(os.fspath(float_path), aeq_recipe(recipe))
    if not q.need_calibration:
        return {}
    clips = list(clips)
    if not clips:
        raise KvidError(f"recipe {recipe.name!r}: no calibration clips")
    key, arg = _signature(float_path)
    threads = min(16, os.cpu_count() or 1)  # the library's default is 16
    if recipe.ranges == LIBRARY_RANGES:
        result = q.calibrate({key: [{arg: np.asarray(c, np.float32)} for c in clips]}, num_threads=threads)
    else:
        # the library on one clip: which tensors it wants a range for, in its layout; kvid's
        # ranges over every clip replace them all
        result = q.calibrate({key: [{arg: np.asarray(clips[0], np.float32)}]}, num_threads=threads)
        reader = TensorReader(float_path)
        tensors = {t.index: t for t in reader.tensors if t.name in result}
        missing = sorted(set(result) - {t.name for t in tensors.values()})
        if missing:
            raise KvidError(f"recipe {recipe.name!r}: no values in {float_path} for tensor(s) "
                            f"{', '.join(missing[:3])} that ai-edge-quantizer calibrates (ranges 'ema' uses its own)")
        pools = {i: ranges_mod.Pool("minmax" if t.op == "INPUT" else recipe.ranges, recipe.activation_bits,
                                    parts=len(clips))
                 for i, t in tensors.items()}
        for clip in clips:
            for index, values in reader.run(clip, list(pools)).items():
                pools[index].add(values)
        for index, pool in pools.items():
            name = tensors[index].name
            lo, hi = pool.fit()
            result[name] = {"min": np.full_like(result[name]["min"], lo),
                            "max": np.full_like(result[name]["max"], max(hi, lo + 1e-2))}
    for pattern, factor in recipe.range_scale.items():
        hits = [name for name in result if re.fullmatch(pattern, layer_of(name))]
        if not hits:
            raise KvidError(f"recipe {recipe.name!r}: range_scale pattern {pattern!r} matches no tensor")
        for name in hits:
            result[name] = {k: np.asarray(v) * float(factor) for k, v in result[name].items()}
    return result


def aeq_quantize(recipe: Recipe, float_path, clips, calibration=None) -> bytes:
    """ai-edge-quantizer's file for ``recipe`` from the float32 file ``float_path``
    (``calibration``: a :func:`calibration_result` to reuse instead of calibrating on ``clips``)."""
    try:
        from ai_edge_quantizer import quantizer
    except ImportError:
        raise KvidError("kind 'aeq' needs ai-edge-quantizer (pip install 'kvid[quant]')") from None
    if calibration is None:
        calibration = calibration_result(recipe, float_path, clips[:recipe.calibration_clips])
    q = quantizer.Quantizer(os.fspath(float_path), aeq_recipe(recipe))
    return bytes(q.quantize(calibration or None, enable_progress_bar=False,
                            enable_progress_report=False).quantized_model)


# -- Keras side (TensorFlow) --------------------------------------------------------------------
def float_of_qat(qat_model):
    """The float model a QAT model computes without its fake quantisation: the same (folded)
    layers with the QAT model's own weights - the reference of a QAT file's per-layer error."""
    import copy

    from kvid.keras import keras
    from kvid.ops import quantize_scope

    config = copy.deepcopy(qat_model.get_config())
    rename, drop = {}, {}
    layers = []
    for layer in config["layers"]:
        if layer["class_name"] == "QuantizeLayer":
            drop[layer["name"]] = layer["inbound_nodes"][0][0][0]
            continue
        if layer["class_name"] in ("QuantizeWrapperV2", "QuantizeWrapper"):
            inner = layer["config"]["layer"]
            inner_name = inner["config"]["name"]
            rename[layer["name"]] = inner_name
            layer = {"class_name": inner["class_name"], "config": inner["config"], "name": inner_name,
                     "inbound_nodes": layer["inbound_nodes"]}
        layers.append(layer)

    def source(name):
        while name in drop:
            name = drop[name]
        return rename.get(name, name)

    for layer in layers:
        for node in layer.get("inbound_nodes", []):
            for inbound in node:
                inbound[0] = source(inbound[0])
    for out in config["output_layers"]:
        out[0] = source(out[0])
    for inp in config["input_layers"]:
        inp[0] = source(inp[0])
    config["layers"] = layers
    with quantize_scope():
        model = keras.Model.from_config(config)
    for wrapper in qat_model.layers:  # the wrapper holds the inner layer's variables, by name
        name = rename.get(wrapper.name)
        if not name:
            continue
        values = {w.name.split("/")[-1]: w for w in wrapper.weights}
        for w in model.get_layer(name).weights:
            w.assign(values[w.name.split("/")[-1]])
    return model


def calibration_steps(recipe: Recipe, batch: int) -> int:
    """Batches of ``batch`` clips that hold the recipe's ``calibration_clips`` (QAT calibration)."""
    return max(1, -(-recipe.calibration_clips // int(batch)))


def qat_from_float(recipe: Recipe, float_model, train_ds, batch: int, steps_per_epoch=None, verbose=0):
    """The QAT model of a ``qat`` recipe with ``qat_from="float"``: :func:`kvid.export.qat.qat_finetune`
    of the float model - BN folded, ranges calibrated on :func:`calibration_steps` batches of
    ``train_ds`` with the recipe's range method, ``qat_epochs`` of fine-tuning."""
    from kvid.export.qat import qat_finetune
    from kvid.keras import tf

    tf.keras.utils.set_random_seed(recipe.seed)
    return qat_finetune(float_model, train_ds, epochs=recipe.qat_epochs, steps_per_epoch=steps_per_epoch,
                        verbose=verbose, calibration_steps=calibration_steps(recipe, batch), ranges=recipe.ranges)


def convert_recipe(recipe: Recipe, float_model, qat_model=None, calibration=None) -> bytes:
    """The TFLite bytes of a ``convert`` or ``qat`` recipe (kvid.export.convert); ``qat_model``:
    the run's QAT model or :func:`qat_from_float`'s."""
    from kvid.export.convert import INTEGER_MODES, convert

    if recipe.kind == "qat":
        if qat_model is None:
            raise KvidError(f"recipe {recipe.name!r}: needs the QAT model (run `kvid qat RUN` first)")
        return convert(qat_model, "int8")
    representative = calibration[:recipe.calibration_clips] if recipe.mode in INTEGER_MODES else None
    return convert(float_model, recipe.mode, representative=representative, per_channel=recipe.per_channel)


def qat_simulation(recipe: Recipe, float_model, train_ds, batch: int = 8, steps_per_epoch=None, verbose=0):
    """QAT in Keras with tfmot's n-bit scheme (weights ``weight_bits``, activations
    ``activation_bits``; kvid's own layers keep their 8-bit output quantizers), calibrated with
    the recipe's range method on :func:`calibration_steps` batches of ``train_ds`` (batches of
    ``batch``): a simulation - no converter writes a file of it."""
    from tensorflow_model_optimization.quantization.keras.experimental.default_n_bit import (
        DefaultNBitQuantizeScheme,
    )

    from kvid.export.qat import compile_for_training
    from kvid.keras import tf
    from kvid.ops import calibrate, quantize_model

    tf.keras.utils.set_random_seed(recipe.seed)
    scheme = DefaultNBitQuantizeScheme(num_bits_weight=recipe.weight_bits,
                                       num_bits_activation=recipe.activation_bits)
    qat = quantize_model(float_model, scheme=scheme)
    calibrate(qat, train_ds, calibration_steps(recipe, batch), method=recipe.ranges)
    compile_for_training(qat, 1e-5)
    if recipe.qat_epochs > 0:
        qat.fit(train_ds, epochs=recipe.qat_epochs, steps_per_epoch=steps_per_epoch, verbose=verbose)
    return qat
