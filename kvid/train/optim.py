"""Optimisers, loss and ``compile`` for a recipe.

- :class:`SGD` / :class:`Adam`: Keras' optimisers plus L2 weight decay on kernels only
  (variables of rank >= 2: Conv2D / DepthwiseConv2D / Dense kernels), added to the gradient
  before the momentum update - PyTorch's ``weight_decay`` - so BatchNorm gamma/beta and biases
  (rank 1) are never decayed.
- :class:`ClassificationLoss`: softmax cross-entropy from logits, computed in float32 (also
  under mixed precision), with optional label smoothing.
- :func:`compile_model`: compile a model with a recipe (inside the model's distribution
  strategy, with top-1 and top-5 metrics).
"""

from __future__ import annotations

from kvid.keras import keras, tf
from kvid.train.recipes import Recipe, get_recipe
from kvid.train.schedules import RecipeSchedule

register = keras.utils.register_keras_serializable(package="kvid")


def decays(variable) -> bool:
    """Whether weight decay applies to ``variable``: kernels (rank >= 2), not BN / biases."""
    return variable.shape.rank is not None and variable.shape.rank >= 2


def _with_decay(gradient, variable, l2):
    if not l2 or not decays(variable):
        return gradient
    if isinstance(gradient, tf.IndexedSlices):
        gradient = tf.convert_to_tensor(gradient)
    return gradient + tf.cast(l2, variable.dtype) * variable


class _KernelDecay:
    """Mixin: ``l2`` weight decay on kernels, added to the gradient before the update."""

    def __init__(self, *args, l2=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable):
        super().update_step(_with_decay(gradient, variable, self.l2), variable)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


@register
class SGD(_KernelDecay, keras.optimizers.SGD):
    """``keras.optimizers.SGD`` with ``l2`` weight decay on kernels (see the module text)."""


@register
class Adam(_KernelDecay, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with ``l2`` weight decay on kernels (see the module text)."""


@register
class ClassificationLoss(keras.losses.Loss):
    """Softmax cross-entropy of integer labels and logits, in float32, label smoothing
    ``eps``: the target is ``(1 - eps) * onehot + eps / classes``."""

    def __init__(self, label_smoothing=0.0, name="cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        logits = tf.cast(y_pred, tf.float32)
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        if not self.label_smoothing:
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        classes = tf.shape(logits)[-1]
        eps = self.label_smoothing
        target = tf.one_hot(labels, classes) * (1.0 - eps) + eps / tf.cast(classes, tf.float32)
        return tf.nn.softmax_cross_entropy_with_logits(target, logits)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_optimizer(recipe: Recipe, steps_per_epoch: int):
    """The recipe's optimiser with its learning-rate schedule (create it inside the strategy
    scope that holds the model's variables)."""
    schedule = RecipeSchedule.from_recipe(recipe, steps_per_epoch)
    if recipe.optimizer == "adam":
        return Adam(schedule, l2=recipe.weight_decay)
    return SGD(schedule, momentum=recipe.momentum, nesterov=recipe.nesterov, l2=recipe.weight_decay)


def metrics(num_classes: int | None = None) -> list:
    k = 5 if num_classes is None else max(1, min(5, int(num_classes)))
    return [
        keras.metrics.SparseCategoricalAccuracy(name="top1"),
        keras.metrics.SparseTopKCategoricalAccuracy(k=k, name="top5"),
    ]


def compile_model(model, recipe="cpu", steps_per_epoch: int = 1, **compile_kwargs):
    """Compile ``model`` for training with ``recipe`` (name, dict or Recipe): the optimiser
    and schedule, :class:`ClassificationLoss`, top-1/top-5 metrics. Returns the model.

    Mixed precision: a model built under the ``mixed_float16`` policy gets Keras' loss-scale
    optimiser (``compile`` adds it) and a float32 loss.
    """
    recipe = get_recipe(recipe)
    num_classes = model.output_shape[-1] if model.outputs else None
    with model.distribute_strategy.scope():
        optimizer = make_optimizer(recipe, steps_per_epoch)
        model.compile(optimizer=optimizer, loss=ClassificationLoss(recipe.label_smoothing),
                      metrics=metrics(num_classes), **compile_kwargs)
    return model


def learning_rate(optimizer, step=None) -> float:
    """The learning rate ``optimizer`` uses at ``step`` (default: its next step)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    lr = inner._learning_rate  # the schedule or a variable
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        return float(lr(inner.iterations if step is None else step))
    return float(lr.numpy()) if hasattr(lr, "numpy") else float(lr)
