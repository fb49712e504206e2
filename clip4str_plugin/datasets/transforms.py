"""Training transforms of the reference as MMCV transforms: PARSeq's RandAugment, and the label
rules for datasets that do not apply them (MMOCR's OCRDataset).

Built on timm's public RandAugment API (``RandAugment``, the ``NAME_TO_OP`` operations and
``LEVEL_TO_ARG`` level maps of ``timm.data.auto_augment``; timm comes with open_clip and is held
to ``timm>=1.0,<2``). The reference's choices: timm's "increasing" op set without
SharpnessIncreasing, plus GaussianBlur and PoissonNoise; three distinct ops per image (uniform
choice weights, which make timm draw without replacement), each applied with probability 0.5 at
magnitude 5 of 10; rotation expands the canvas; maxima at magnitude 10: rotate 30 deg, shear x
0.9 / y 0.2, translate x 0.10 / y 0.30 (the fraction of the image), blur radius 4, Poisson
lambda 40, the last two capped by the image size.
"""
import os
import random
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import MMLogger
from mmocr.registry import TRANSFORMS
from PIL import Image, ImageFilter
from timm.data.auto_augment import LEVEL_TO_ARG, NAME_TO_OP, RandAugment, rotate

from ..text.rules import LabelRules
from .label_checks import check_kept

#: The reference's operations, in timm's names (its "increasing" set less SharpnessIncreasing),
#: then the two the reference adds.
OPS = ('AutoContrast', 'Equalize', 'Invert', 'Rotate', 'PosterizeIncreasing',
       'SolarizeIncreasing', 'SolarizeAdd', 'ColorIncreasing', 'ContrastIncreasing',
       'BrightnessIncreasing', 'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel',
       'GaussianBlur', 'PoissonNoise')
#: RandAugment's magnitude scale: magnitude M gives M / 10 of each op's maximum.
MAX_MAGNITUDE = 10.
#: The reference's maxima for the geometric ops (sign drawn at random) and its two own ops.
SIGNED_MAXIMA = dict(Rotate=30., ShearX=0.9, ShearY=0.2, TranslateXRel=0.10, TranslateYRel=0.30)
OWN_MAXIMA = dict(GaussianBlur=4., PoissonNoise=40.)
_FILL = (128, 128, 128)
#: STRLabelRules judges the share of rejected samples once it has seen this many.
JUDGE_AFTER = 100


def _size_capped(level, img, size_factor):
    """The reference caps blur / noise strength by the image size (at least 1)."""
    return round(min(level, max(1, size_factor * max(img.size))))


def _rotate_expand(img, degrees, **kwargs):
    return rotate(img, degrees, expand=True, **kwargs)


def _gaussian_blur(img, level, **_):
    return img.filter(ImageFilter.GaussianBlur(_size_capped(level, img, 0.02)))


def _poisson_noise(img, level, **_):
    """Additive Poisson noise, randomly signed per pixel, one draw shared by the channels."""
    lam = _size_capped(level, img, 0.2) | 1
    arr = np.asarray(img).astype(np.int16)
    noise = np.random.poisson(lam, arr.shape[:2]) * np.random.choice((-1, 1), arr.shape[:2])
    return Image.fromarray(np.clip(arr + noise[..., None], 0, 255).astype(np.uint8))


class PARSeqOp:
    """One operation at a fixed magnitude, applied with probability ``prob``; :meth:`args`
    draws the operation's arguments (a tuple)."""

    def __init__(self, name: str, magnitude: float, prob: float):
        self.name, self.magnitude, self.prob = name, magnitude, prob
        self.fn = dict(Rotate=_rotate_expand, GaussianBlur=_gaussian_blur,
                       PoissonNoise=_poisson_noise).get(name) or NAME_TO_OP[name]

    def args(self) -> tuple:
        level = self.magnitude / MAX_MAGNITUDE
        if self.name in SIGNED_MAXIMA:
            return (random.choice((-1, 1)) * level * SIGNED_MAXIMA[self.name], )
        if self.name in OWN_MAXIMA:
            return (level * OWN_MAXIMA[self.name], )
        level_fn = LEVEL_TO_ARG[self.name]   # timm's level map: the reference's values
        return level_fn(self.magnitude, {}) if level_fn else ()

    def __call__(self, img: Image.Image) -> Image.Image:
        if random.random() > self.prob:
            return img
        resample = random.choice((Image.BILINEAR, Image.BICUBIC))
        return self.fn(img, *self.args(), fillcolor=_FILL, resample=resample)

    def __repr__(self):
        return f'{self.name}(m={self.magnitude}, p={self.prob})'


@TRANSFORMS.register_module()
class PARSeqRandAugment(BaseTransform):
    """RandAugment of PARSeq / CLIP4STR on ``results['img']`` (BGR uint8; the size may change).

    Args:
        num_ops: distinct operations drawn per image (3).
        magnitude: 0..10 (5).
        prob: probability of applying each drawn operation (0.5, timm's default).
    """

    def __init__(self, num_ops: int = 3, magnitude: float = 5., prob: float = 0.5):
        self.num_ops = num_ops
        self.ops = [PARSeqOp(name, magnitude, prob) for name in OPS]
        self.rand_augment = RandAugment(self.ops, num_ops,
                                        choice_weights=[1. / len(self.ops)] * len(self.ops))

    def transform(self, results: dict) -> dict:
        img = Image.fromarray(cv2.cvtColor(results['img'], cv2.COLOR_BGR2RGB))
        img = self.rand_augment(img)
        results['img'] = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self):
        return f'{type(self).__name__}(num_ops={self.num_ops}, ops={[o.name for o in self.ops]})'


@TRANSFORMS.register_module()
class STRLabelRules(BaseTransform):
    """The reference's label rules (:class:`~clip4str_plugin.text.rules.LabelRules`) on
    ``results['instances'][i]['text']``, for datasets that do not apply them themselves (MMOCR's
    ``OCRDataset``): each label cleaned, or the sample rejected (``None``), which MMEngine's
    dataset answers in training by drawing another sample. Rejections are counted per process
    and logged at the 1st, 10th, 100th ... with the latest image; once :data:`JUDGE_AFTER`
    samples were seen, rejecting more than half of them is a one-line :class:`DataError` (the
    rule, an example label, the setting to change). For training pipelines: at test time the
    STR metric applies the same rules to the ground truth.

    Args:
        charset: '94' (training), '36', '62', a dictionary file ('charset_greek.txt') or the
            characters themselves.
        max_label_length, remove_whitespace, label_folding: as :class:`LabelRules`.
    """

    def __init__(self, charset: str = '94', max_label_length: int = 25,
                 remove_whitespace: bool = True, label_folding: str = 'ascii'):
        self.rules = LabelRules(charset, max_label_length, remove_whitespace, label_folding)
        self.seen = 0

    def transform(self, results: dict) -> Optional[dict]:
        self.seen += 1
        instances = results.get('instances') or []
        labels = [self.rules(instance.get('text', '')) for instance in instances]
        if labels and None not in labels:
            for instance, label in zip(instances, labels):
                instance['text'] = label
            return results
        if not labels:
            self.rules.dropped['no_label'] += 1
        total = sum(self.rules.dropped.values())
        if self.seen >= JUDGE_AFTER:
            check_kept('STRLabelRules', self.seen - total, self.seen, dict(self.rules.dropped),
                       f'the first {self.seen} samples of process {os.getpid()}', self.rules)
        if str(total).strip('0') == '1':   # 1, 10, 100, ...
            reasons = ', '.join(f'{k} {v}' for k, v in self.rules.dropped.items())
            MMLogger.get_current_instance().warning(
                f'STRLabelRules: {total} samples dropped so far in process {os.getpid()} '
                f'({reasons}); latest: {results.get("img_path")}')
        return None

    def __repr__(self):
        return (f'{type(self).__name__}(charset={self.rules.adapt.charset!r}, '
                f'max_label_length={self.rules.max_length}, '
                f'label_folding={self.rules.folding!r})')
