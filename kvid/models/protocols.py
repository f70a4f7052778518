"""Each paper's data protocol (sampler, crops, test views, recipe), attached to the presets.

One table, so the five papers' protocols can be read side by side; the registry gives every
preset its family's default protocol (``Preset.protocol``) and the named alternatives
(``Preset.protocols``, ``--protocol NAME``). The clip's ``frames`` and ``crop`` follow the
preset's own input (its paper's reference row) unless an alternative names its own. Where
kvid cannot do exactly what the paper does the ``notes`` say so.

Sources (../shared/papers, and the official code where the paper leaves a detail open):

- SEVNet (001) Sec. 4.1 "Training"/"Testing": TSN segments (16; a random frame of each in
  training, the middle frame at test), short side 224..256 + random 224 crop; test short side
  224, one centre crop. Sec. 4.4 (Kinetics-400): 16 frames from 64 consecutive, one random
  window in training, 10 windows x 3 crops at test; 100 epochs, dropout 0.2.
- MF-Net (004) Sec. 4 / cypw/PyTorch-MFNet (data/iterator_factory.py, train_kinetics.py): 16
  frames, frame interval 2 at test (training draws 1, 2, 2 or 3: kvid keeps 2), random short
  side 224..288 + 224 crop (the code also jitters the aspect ratio: not done here); test: the
  video resized to 256 and a 224 crop, clip predictions averaged (the code samples clips at
  random; kvid takes 10 uniformly placed clips so evaluation repeats); SGD lr 0.1 at batch
  1,024, x0.1 steps, weight decay 1e-4.
- EAC-Net (000) "During training"/"During inference": 32 frames at a random rate, short side
  215..345, 224 crop; test 32 frames evenly over the video, short side 256 and 256 centre crop
  (Kinetics; Something-Something V1: 224/224). A kvid model has one input size, so it trains
  at the test crop (a short side drawn below it is raised to it) where the paper trains at
  224 and tests fully convolutionally at 256.
- CT-Net (003) Sec. 4 + Appendix A.1: dense sampling for Kinetics (4 clips x 3 crops of 256 at
  test), TSN segments for Something-Something (2 clips at test), random scaling and cropping
  to 256 (kvid: short side 256..320, 256 crop); the SGD/cosine recipes of Appendix A.1.
- FASTER (002) "Setups for clip-level backbones": L consecutive frames at a random start,
  short side 256..320, 224 crop (following Non-local), cosine schedule, otherwise R(2+1)D's
  recipe (VMZ scripts/train_r2plus1d_kinetics.sh); test: N clips uniformly covering the video
  with N x L = 256 frames, scores averaged.
"""

from __future__ import annotations

from kvid.contract.clip import ClipSpec
from kvid.contract.protocol import GENERIC, Protocol

_SEV_SSV = Protocol(
    clip=ClipSpec(scheme="segments", frames=16, crop=224, scale=(224, 256), resize=224),
    recipe="sevnet", dataset="Something-Something V1/V2",
    source="SEVNet Sec. 4.1 (Training, Testing)")
_SEV_K400 = Protocol(
    clip=ClipSpec(scheme="consecutive", frames=16, window=64, crop=224, scale=(224, 256), clips=10,
                  crops=3),
    recipe="sevnet_k400", dataset="Kinetics-400",
    source="SEVNet Sec. 4.4 (16 of 64 consecutive frames, 10 clips x 3 crops)")

_MF_K400 = Protocol(
    clip=ClipSpec(scheme="dense", frames=16, stride=2, crop=224, scale=(224, 288), resize=256, clips=10),
    recipe="mfnet", dataset="Kinetics-400",
    source="MF-Net Sec. 4; cypw/PyTorch-MFNet data/iterator_factory.py, train_kinetics.py",
    notes="training frame interval fixed at 2 (the code draws 1/2/2/3), no aspect-ratio jitter; "
          "10 uniform test clips instead of random ones; short side resized to 256 (the code "
          "squashes the frame to 256x256)")

_EAC_K400 = Protocol(
    clip=ClipSpec(scheme="random_rate", frames=32, crop=256, scale=(215, 345), resize=256),
    recipe="eacnet", dataset="Kinetics-400",
    source="EAC-Net 'During training' / 'During inference'",
    notes="trains at the test crop (256) because a kvid model has one input size; the paper "
          "trains at 224 and tests fully convolutionally at 256")
_EAC_SSV = Protocol(
    clip=ClipSpec(scheme="random_rate", frames=32, crop=224, scale=(215, 345), resize=224),
    recipe="eacnet_ssv2", dataset="Something-Something V1",
    source="EAC-Net 'During inference' (224 short side and crop for Something-Something V1)")

_CT_K400 = Protocol(
    clip=ClipSpec(scheme="dense", frames=16, stride=4, crop=256, scale=(256, 320), resize=256,
                  clips=4, crops=3),
    recipe="ctnet", dataset="Kinetics-400",
    source="CT-Net Sec. 4 (dense sampling; 4 clips x 3 crops of 256) + Appendix A.1",
    notes="the frame stride of dense sampling is not given; kvid uses 4 (16 frames over 64, as "
          "Non-local's 32x2); random scaling + cropping read as short side 256..320")
_CT_SSV = Protocol(
    clip=ClipSpec(scheme="segments", frames=8, crop=256, scale=(256, 320), resize=256, clips=2),
    recipe="ctnet_ssv2", dataset="Something-Something V1/V2",
    source="CT-Net Sec. 4 (sparse sampling; 2 clips at test) + Appendix A.1")

_FASTER = Protocol(
    clip=ClipSpec(scheme="dense", frames=8, crop=224, scale=(256, 320), clips=32),
    recipe="faster", dataset="Kinetics-400",
    source="FASTER 'Setups for clip-level backbones' (N x L = 256 frames at test)")

#: family -> (default protocol, {name: alternative})
FAMILIES = {
    "sevnet": (_SEV_SSV, {"ssv": _SEV_SSV, "kinetics": _SEV_K400}),
    "mfnet": (_MF_K400, {"kinetics": _MF_K400}),
    "eacnet": (_EAC_K400, {"kinetics": _EAC_K400, "ssv": _EAC_SSV}),
    "c2d": (_EAC_K400, {"kinetics": _EAC_K400, "ssv": _EAC_SSV}),  # EAC-Net's C2D baseline
    "ctnet": (_CT_K400, {"kinetics": _CT_K400, "ssv": _CT_SSV}),
    "faster": (_FASTER, {"kinetics": _FASTER}),
}
#: presets whose reference row is another benchmark than their family's default
PRESET_DEFAULTS = {"sevnet_g12": "kinetics"}


def for_preset(name: str, family: str, frames: int, size: int) -> tuple[Protocol, dict]:
    """(default protocol, alternatives) of a preset; the default takes the preset's input."""
    default, alternatives = FAMILIES.get(family, (GENERIC, {}))
    if name in PRESET_DEFAULTS:
        default = alternatives[PRESET_DEFAULTS[name]]
    if family == "faster":  # N x L = 256 frames at test (FASTER Table 2)
        default = default.with_clip(clips=max(1, 256 // frames))
        alternatives = {k: v.with_clip(frames=frames, clips=max(1, 256 // frames))
                        for k, v in alternatives.items()}
    return default.at(frames=frames, crop=size), dict(alternatives)


__all__ = ["FAMILIES", "for_preset"]
