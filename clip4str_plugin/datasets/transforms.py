"""Training augmentation of the reference: PARSeq's RandAugment, as an MMCV transform.

Built on timm's operations and level maps (timm ships with open_clip). The reference's choices:
timm's "increasing" op set without SharpnessIncreasing, plus GaussianBlur and PoissonNoise; three
distinct ops per image, each applied with probability 0.5, magnitude 5 of 10; rotation expands the
canvas; maxima at magnitude 10: rotate 30 deg, shear x 0.9 / y 0.2, translate x 0.10 / y 0.30 (the
fraction of the image), blur radius 4, Poisson lambda 40, the last two capped by the image size.
"""
import random
from functools import partial

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmocr.registry import TRANSFORMS
from PIL import Image, ImageFilter
from timm.data import auto_augment as taa

_SIGNED_MAXIMA = dict(Rotate=30., ShearX=0.9, ShearY=0.2, TranslateXRel=0.10,
                      TranslateYRel=0.30)
_OPS = [op for op in taa._RAND_INCREASING_TRANSFORMS if op != 'SharpnessIncreasing'] + \
    ['GaussianBlur', 'PoissonNoise']
_FILL = (128, 128, 128)


def _signed_level(magnitude, maximum):
    return taa._randomly_negate(magnitude / taa._LEVEL_DENOM * maximum),


def _size_capped(level, img, size_factor):
    """The reference caps blur / noise strength by the image size (at least 1)."""
    return round(min(level, max(1, size_factor * max(img.size))))


def _rotate_expand(img, degrees, **kwargs):
    return taa.rotate(img, degrees, expand=True, **kwargs)


def _gaussian_blur(img, level, **_):
    return img.filter(ImageFilter.GaussianBlur(_size_capped(level, img, 0.02)))


def _poisson_noise(img, level, **_):
    """Additive Poisson noise, randomly signed per pixel, one draw shared by the channels."""
    lam = _size_capped(level, img, 0.2) | 1
    arr = np.asarray(img).astype(np.int16)
    noise = np.random.poisson(lam, arr.shape[:2]) * np.random.choice((-1, 1), arr.shape[:2])
    return Image.fromarray(np.clip(arr + noise[..., None], 0, 255).astype(np.uint8))


class _Op:
    """One operation at a fixed magnitude, applied with probability ``prob``."""

    def __init__(self, name: str, magnitude: float, prob: float):
        self.name, self.prob = name, prob
        if name in _SIGNED_MAXIMA:
            self.args = partial(_signed_level, magnitude, _SIGNED_MAXIMA[name])
        elif name in ('GaussianBlur', 'PoissonNoise'):
            maximum = 4. if name == 'GaussianBlur' else 40.
            self.args = lambda: (maximum * magnitude / taa._LEVEL_DENOM, )
        else:
            level_fn = taa.LEVEL_TO_ARG[name]
            self.args = (lambda: level_fn(magnitude, {})) if level_fn else tuple
        self.fn = dict(Rotate=_rotate_expand, GaussianBlur=_gaussian_blur,
                       PoissonNoise=_poisson_noise).get(name) or taa.NAME_TO_OP[name]

    def __call__(self, img: Image.Image) -> Image.Image:
        if random.random() > self.prob:
            return img
        resample = random.choice((Image.BILINEAR, Image.BICUBIC))
        return self.fn(img, *self.args(), fillcolor=_FILL, resample=resample)


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
        self.ops = [_Op(name, magnitude, prob) for name in _OPS]

    def transform(self, results: dict) -> dict:
        img = Image.fromarray(cv2.cvtColor(results['img'], cv2.COLOR_BGR2RGB))
        for index in np.random.choice(len(self.ops), self.num_ops, replace=False):
            img = self.ops[index](img)
        results['img'] = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self):
        return f'{type(self).__name__}(num_ops={self.num_ops}, ops={[o.name for o in self.ops]})'
