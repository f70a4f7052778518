"""Training recipes: the papers' optimiser, schedule and regularisation as named presets.

A :class:`Recipe` says how to train, not what to train: optimiser (SGD with momentum 0.9 as
in every paper, or Adam for the quick CPU recipe), base learning rate for a reference batch
size, schedule (linear warm-up then cosine, or steps), epochs, weight decay, label smoothing,
and the dropout rate the paper puts before the classifier (dropout itself is the model's
layer; ``kvid train`` passes ``dropout`` to a builder that takes it unless ``--set dropout=``
says otherwise).

Presets (the papers' text, ../shared/papers):

``sevnet``       SEVNet Sec. 4.1: 64 epochs, SGD momentum 0.9, base lr 0.01 per 8 clips
                 (0.08 at batch 64), cosine with 4 warm-up epochs, weight decay 1e-4,
                 dropout 0.5 (Something-Something, FineGym).
``sevnet_k400``  the same for Kinetics-400 / MMIT: 100 epochs (Sec. 4.4), dropout 0.2 (Sec. 4.1).
``ctnet``        CT-Net Appendix A.1 (Kinetics): batch 64, 110 epochs, lr 0.01, cosine with 10
                 warm-up epochs, weight decay 1e-4, dropout 0.5.
``ctnet_ssv2``   CT-Net Appendix A.1 (Something-Something): batch 64, 45 epochs, lr 0.02,
                 weight decay 5e-4, dropout 0.3, 10 warm-up epochs.
``mfnet``        MF-Net Sec. 4 (Kinetics): SGD, lr 0.1 at batch 1,024, x0.1 steps, weight decay
                 1e-4, ~36,000 iterations (~154 epochs of Kinetics-400's ~240k videos); the
                 steps at 18M/28M/34M training clips of the official code
                 (cypw/PyTorch-MFNet train_kinetics.py) are epochs 75, 117, 142.
``faster``       FASTER's clip backbones ("Setups for clip-level backbones"): R(2+1)D's recipe
                 (facebookresearch/VMZ scripts/train_r2plus1d_kinetics.sh: SGD momentum 0.9,
                 lr 0.01 at batch 32, 35 epochs, weight decay 1e-4) with the cosine schedule
                 FASTER uses instead of the steps.
``eacnet``       EAC-Net (Kinetics): 60 epochs, lr 0.001, x0.1 at epochs 30 and 50, SGD
                 momentum 0.9, weight decay 5e-4 (from ImageNet-initialised backbones).
``eacnet_ssv2``  EAC-Net fine-tuning on Something-Something V1: 25 epochs, lr 0.001, x0.1 at
                 10, 15 and 20.
``cpu``          kvid's own quick recipe for the demo, tests and small configs on a CPU:
                 SGD momentum 0.9 (Nesterov), lr 0.05 at batch 16, 1 warm-up epoch, cosine,
                 weight decay 1e-4, 20 epochs. Not from a paper.

Weight decay is L2 on the convolution and dense *kernels* only (tensors of rank >= 2), added
to the gradient before the momentum update as PyTorch's ``SGD(weight_decay=...)`` does, so
BatchNorm gamma/beta and biases are not decayed (none of the papers says they are).

A recipe run for fewer epochs than its warm-up (``kvid train --epochs 2`` of a 4-warm-up
recipe) gets its warm-up shortened to the same fraction of the run
(:meth:`Recipe.with_epochs`), and ``notes`` says so.

The learning rate scales linearly with the batch size (Goyal et al. 2017) when a recipe has a
reference ``batch``: ``lr * batch / recipe.batch``; an explicit ``lr`` is used as given.
This module imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses

from kvid import KvidError

SCHEDULES = ("cosine", "step", "constant")
OPTIMIZERS = ("sgd", "adam")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train. ``lr`` is for a batch of ``batch`` clips (``batch=None``: no scaling)."""

    name: str
    epochs: int
    lr: float
    batch: int | None = None
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    warmup_start: float = 0.0  # warm-up starts at lr * warmup_start
    steps: tuple = ()  # epochs at which the step schedule multiplies the lr by `gamma`
    gamma: float = 0.1
    min_lr: float = 0.0  # cosine floor, as a fraction of lr
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    dropout: float | None = None  # the paper's rate before the classifier (the model applies it)
    source: str = ""
    notes: str = ""  # what kvid changed for this run (e.g. a shortened warm-up)

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise KvidError(f"schedule={self.schedule!r}: choose from {', '.join(SCHEDULES)}")
        if self.optimizer not in OPTIMIZERS:
            raise KvidError(f"optimizer={self.optimizer!r}: choose from {', '.join(OPTIMIZERS)}")
        if int(self.epochs) < 1:
            raise KvidError(f"epochs={self.epochs}: must be at least 1")
        if not float(self.lr) > 0:
            raise KvidError(f"lr={self.lr}: must be positive")
        if self.batch is not None and int(self.batch) < 1:
            raise KvidError(f"batch={self.batch}: must be at least 1")
        if not 0 <= float(self.warmup_epochs) <= int(self.epochs):
            raise KvidError(f"warmup_epochs={self.warmup_epochs}: must be in [0, epochs={self.epochs}]")
        if not 0 <= float(self.label_smoothing) < 1:
            raise KvidError(f"label_smoothing={self.label_smoothing}: must be in [0, 1)")
        if float(self.weight_decay) < 0:
            raise KvidError(f"weight_decay={self.weight_decay}: must be >= 0")
        if self.dropout is not None and not 0 <= float(self.dropout) < 1:
            raise KvidError(f"dropout={self.dropout}: must be in [0, 1)")
        if list(self.steps) != sorted(self.steps) or any(s <= 0 for s in self.steps):
            raise KvidError(f"steps={list(self.steps)}: must be increasing positive epochs")

    def scaled_lr(self, batch: int | None) -> float:
        """The base learning rate for ``batch`` clips per step (linear scaling rule)."""
        if batch is None or self.batch is None:
            return float(self.lr)
        return float(self.lr) * int(batch) / int(self.batch)

    def with_batch(self, batch: int | None) -> "Recipe":
        """This recipe for ``batch`` clips per step: lr scaled, ``batch`` set."""
        if batch is None or self.batch is None or int(batch) == int(self.batch):
            return self if batch is None else dataclasses.replace(self, batch=int(batch))
        return dataclasses.replace(self, lr=self.scaled_lr(batch), batch=int(batch))

    def with_epochs(self, epochs: int) -> "Recipe":
        """This recipe for ``epochs`` epochs; a warm-up that no longer fits keeps its fraction
        of the run (``notes`` says so)."""
        epochs = int(epochs)
        if epochs < 1:
            raise KvidError(f"epochs={epochs}: must be at least 1")
        warm = float(self.warmup_epochs)
        steps = tuple(s for s in self.steps if s < epochs)  # steps after the run never happen
        if warm <= epochs:
            return dataclasses.replace(self, epochs=epochs, steps=steps)
        fitted = round(warm * epochs / int(self.epochs), 4)
        note = (f"warm-up shortened from {warm:g} to {fitted:g} epochs to fit {epochs} epochs "
                f"(the recipe's {warm / int(self.epochs):.0%} of the run)")
        return dataclasses.replace(self, epochs=epochs, warmup_epochs=fitted, steps=steps,
                                   notes="; ".join(n for n in (self.notes, note) if n))

    def replace(self, **changes) -> "Recipe":
        """A copy with fields changed (KvidError for unknown fields or bad values); a new
        ``epochs`` goes through :meth:`with_epochs` unless ``warmup_epochs`` is given too."""
        if "epochs" in changes and "warmup_epochs" not in changes:
            base = self.with_epochs(changes.pop("epochs"))
            return base.replace(**changes) if changes else base
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise KvidError(f"recipe {self.name}: unknown field(s) {', '.join(unknown)} "
                            f"(fields: {', '.join(sorted(fields - {'name'}))})")
        if "steps" in changes:
            changes["steps"] = tuple(changes["steps"] or ())
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["steps"] = list(self.steps)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise KvidError(f"recipe: unknown field(s) {', '.join(unknown)}")
        d = dict(d)
        d["steps"] = tuple(d.get("steps") or ())
        return cls(**d)

    def lr_at(self, epoch: float) -> float:
        """The learning rate at (fractional) epoch ``epoch`` - the formula the schedule
        object in :mod:`kvid.train.schedules` computes per step."""
        import math

        base = float(self.lr)
        warm = float(self.warmup_epochs)
        if warm > 0 and epoch < warm:
            start = base * float(self.warmup_start)
            return start + (base - start) * epoch / warm
        if self.schedule == "cosine":
            span = max(float(self.epochs) - warm, 1e-12)
            progress = min(max((epoch - warm) / span, 0.0), 1.0)
            floor = base * float(self.min_lr)
            return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if self.schedule == "step":
            return base * float(self.gamma) ** sum(epoch >= s for s in self.steps)
        return base

    def describe(self) -> str:
        sched = {"cosine": "cosine", "constant": "constant",
                 "step": f"x{self.gamma:g} at epochs {', '.join(str(s) for s in self.steps)}"}[self.schedule]
        warm = f", {self.warmup_epochs:g} warm-up epochs" if self.warmup_epochs else ""
        opt = (f"SGD momentum {self.momentum:g}" + (" (Nesterov)" if self.nesterov else "")
               if self.optimizer == "sgd" else "Adam")
        extra = []
        if self.weight_decay:
            extra.append(f"weight decay {self.weight_decay:g} (kernels)")
        if self.label_smoothing:
            extra.append(f"label smoothing {self.label_smoothing:g}")
        batch = f" at batch {self.batch}" if self.batch else ""
        return (f"{self.name}: {opt}, lr {self.lr:g}{batch}, {sched}{warm}, {self.epochs} epochs"
                + (", " + ", ".join(extra) if extra else ""))


_SEV = "SEVNet Sec. 4.1 (../shared/papers/001_*.txt)"
_CT = "CT-Net Appendix A.1 (../shared/papers/003_*.txt)"
_EAC = "EAC-Net Sec. 4 (../shared/papers/000_*.txt)"
_MF = ("MF-Net Sec. 4 (../shared/papers/004_*.txt); steps from cypw/PyTorch-MFNet "
       "train_kinetics.py (18M/28M/34M clips)")
_FASTER = ("FASTER 'Setups for clip-level backbones' (../shared/papers/002_*.txt): "
           "facebookresearch/VMZ scripts/train_r2plus1d_kinetics.sh with a cosine schedule")

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("sevnet", epochs=64, lr=0.08, batch=64, schedule="cosine", warmup_epochs=4,
               weight_decay=1e-4, dropout=0.5, source=_SEV),
        Recipe("sevnet_k400", epochs=100, lr=0.08, batch=64, schedule="cosine", warmup_epochs=4,
               weight_decay=1e-4, dropout=0.2, source=_SEV + " and Sec. 4.4 (Kinetics-400)"),
        Recipe("ctnet", epochs=110, lr=0.01, batch=64, schedule="cosine", warmup_epochs=10,
               weight_decay=1e-4, dropout=0.5, source=_CT + ", Kinetics"),
        Recipe("ctnet_ssv2", epochs=45, lr=0.02, batch=64, schedule="cosine", warmup_epochs=10,
               weight_decay=5e-4, dropout=0.3, source=_CT + ", Something-Something"),
        Recipe("eacnet", epochs=60, lr=0.001, schedule="step", steps=(30, 50),
               weight_decay=5e-4, source=_EAC + ", Kinetics"),
        Recipe("eacnet_ssv2", epochs=25, lr=0.001, schedule="step", steps=(10, 15, 20),
               weight_decay=5e-4, source=_EAC + ", Something-Something V1 fine-tuning"),
        Recipe("mfnet", epochs=154, lr=0.1, batch=1024, schedule="step", steps=(75, 117, 142),
               weight_decay=1e-4, source=_MF),
        Recipe("faster", epochs=35, lr=0.01, batch=32, schedule="cosine", weight_decay=1e-4,
               source=_FASTER),
        Recipe("cpu", epochs=20, lr=0.05, batch=16, nesterov=True, schedule="cosine",
               warmup_epochs=1, weight_decay=1e-4, source="kvid (small configs on a CPU)"),
    )
}



def get_recipe(recipe="cpu", **changes) -> Recipe:
    """A recipe by name (or a ``Recipe``/dict), with ``changes`` applied."""
    if isinstance(recipe, Recipe):
        base = recipe
    elif isinstance(recipe, dict):
        base = Recipe.from_dict(recipe)
    elif recipe in RECIPES:
        base = RECIPES[recipe]
    else:
        raise KvidError(f"recipe {recipe!r}: unknown (known: {', '.join(RECIPES)})")
    changes = {k: v for k, v in changes.items() if v is not None}
    return base.replace(**changes) if changes else base


def recipes() -> dict[str, Recipe]:
    return dict(RECIPES)
