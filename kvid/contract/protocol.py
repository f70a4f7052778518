"""A paper's data protocol: how the paper samples, crops and tests clips, and how it trains.

Every preset of the zoo carries one (``kvid.models.get(name).protocol``), and ``kvid info``,
``kvid train``, ``kvid evaluate``, ``kvid export`` and ``kvid demo`` use it unless a flag says
otherwise; a run's ``config.json`` records what was used. A :class:`Protocol` is

- ``clip``: a :class:`~kvid.contract.clip.ClipSpec` - the training sampler and augmentation
  (scheme, frames, stride/window, short-side jitter, flip) and the test views (clips x crops,
  test short side, crop);
- ``recipe``: the name of a training recipe in ``kvid.train.recipes`` (optimiser, schedule,
  epochs, weight decay, dropout);
- ``dataset`` and ``source``: which benchmark the protocol is for and where the paper (or its
  official code) says so;
- ``notes``: where kvid departs from the paper, and why.

A preset may name alternatives (``Preset.protocols``, e.g. SEVNet's Kinetics sampling), chosen
with ``--protocol NAME``. Only the standard library is imported here.
"""

from __future__ import annotations

import dataclasses

from kvid import KvidError
from kvid.contract.clip import ClipSpec


@dataclasses.dataclass(frozen=True, kw_only=True)
class Protocol:
    clip: ClipSpec
    recipe: str
    dataset: str = ""
    source: str = ""
    notes: str = ""

    def to_dict(self) -> dict:
        return {"clip": self.clip.to_dict(), "recipe": self.recipe, "dataset": self.dataset,
                "source": self.source, "notes": self.notes}

    @classmethod
    def from_dict(cls, data, where: str = "protocol") -> "Protocol":
        if not isinstance(data, dict) or "clip" not in data or "recipe" not in data:
            raise KvidError(f"{where}: a protocol needs at least 'clip' and 'recipe'")
        unknown = sorted(set(data) - {"clip", "recipe", "dataset", "source", "notes"})
        if unknown:
            raise KvidError(f"{where}: unknown protocol field(s) {', '.join(unknown)}")
        return cls(clip=ClipSpec.from_dict(data["clip"], f"{where}: clip"), recipe=str(data["recipe"]),
                   dataset=str(data.get("dataset", "")), source=str(data.get("source", "")),
                   notes=str(data.get("notes", "")))

    def with_clip(self, **changes) -> "Protocol":
        """The same protocol with clip fields replaced (None values ignored)."""
        return dataclasses.replace(self, clip=self.clip.replace(**changes))

    def at(self, *, frames: int | None = None, crop: int | None = None) -> "Protocol":
        """The same protocol for another clip length and crop (:meth:`ClipSpec.at`)."""
        return dataclasses.replace(self, clip=self.clip.at(frames=frames, crop=crop))

    def describe(self) -> str:
        lines = [f"protocol: {self.dataset or 'generic'} ({self.source or 'kvid default'})",
                 f"  clips: {self.clip.describe()}", f"  recipe: {self.recipe}"]
        if self.notes:
            lines.append(f"  note: {self.notes}")
        return "\n".join(lines)


#: what a preset without a paper protocol gets (kvid's own test models)
GENERIC = Protocol(clip=ClipSpec(scheme="segments"), recipe="cpu", dataset="", source="",
                   notes="kvid's own: TSN segments over the whole video (what the synthetic "
                         "dataset's classes need) and the quick CPU recipe; not from a paper")


__all__ = ["GENERIC", "Protocol"]
