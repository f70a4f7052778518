"""Learning-rate schedules of the recipes, per optimiser step.

:class:`RecipeSchedule` is a Keras ``LearningRateSchedule`` driven by the optimiser's step
counter, so the learning-rate position is part of the optimiser state: a run restored from a
checkpoint continues the schedule where it stopped. Step ``i`` uses the schedule at the middle
of that step, ``epoch = (i + 0.5) / steps_per_epoch``, evaluated with the formula of
:meth:`kvid.train.recipes.Recipe.lr_at` (linear warm-up, then cosine or steps).
"""

from __future__ import annotations

import math

from kvid.keras import keras, tf
from kvid.train.recipes import Recipe


@keras.utils.register_keras_serializable(package="kvid")
class RecipeSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up then ``cosine`` (to ``min_lr * lr``), ``step`` (``x gamma`` at each epoch
    of ``steps``) or ``constant``; all in epochs, converted with ``steps_per_epoch``."""

    def __init__(self, lr, steps_per_epoch, epochs, schedule="cosine", warmup_epochs=0.0,
                 warmup_start=0.0, steps=(), gamma=0.1, min_lr=0.0):
        super().__init__()
        self.lr = float(lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.schedule = str(schedule)
        self.warmup_epochs = float(warmup_epochs)
        self.warmup_start = float(warmup_start)
        self.steps = tuple(float(s) for s in steps)
        self.gamma = float(gamma)
        self.min_lr = float(min_lr)
        if self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch={steps_per_epoch}: must be at least 1")

    @classmethod
    def from_recipe(cls, recipe: Recipe, steps_per_epoch: int) -> "RecipeSchedule":
        return cls(recipe.lr, steps_per_epoch, recipe.epochs, recipe.schedule,
                   recipe.warmup_epochs, recipe.warmup_start, recipe.steps, recipe.gamma,
                   recipe.min_lr)

    def __call__(self, step):
        with tf.name_scope("recipe_schedule"):
            epoch = (tf.cast(step, tf.float64) + 0.5) / self.steps_per_epoch
            base = tf.constant(self.lr, tf.float64)
            if self.schedule == "cosine":
                span = max(self.epochs - self.warmup_epochs, 1e-12)
                progress = tf.clip_by_value((epoch - self.warmup_epochs) / span, 0.0, 1.0)
                floor = self.lr * self.min_lr
                after = floor + (self.lr - floor) * 0.5 * (1.0 + tf.cos(math.pi * progress))
            elif self.schedule == "step":
                drops = tf.zeros([], tf.float64)
                for s in self.steps:
                    drops += tf.cast(epoch >= s, tf.float64)
                after = base * tf.pow(tf.constant(self.gamma, tf.float64), drops)
            else:
                after = base
            if self.warmup_epochs > 0:
                start = self.lr * self.warmup_start
                warm = start + (self.lr - start) * epoch / self.warmup_epochs
                after = tf.where(epoch < self.warmup_epochs, warm, after)
            return tf.cast(after, tf.float32)

    def get_config(self):
        return {
            "lr": self.lr, "steps_per_epoch": self.steps_per_epoch, "epochs": self.epochs,
            "schedule": self.schedule, "warmup_epochs": self.warmup_epochs,
            "warmup_start": self.warmup_start, "steps": list(self.steps), "gamma": self.gamma,
            "min_lr": self.min_lr,
        }
