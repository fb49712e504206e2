"""Photographs for scene-text backgrounds and the natural colour palette derived from them.

The photos are scikit-image's bundled sample images (``skimage.data``; scikit-image comes with
MMOCR), all public domain or CC0: ``astronaut`` (NASA), ``rocket`` (SpaceX), ``coffee``
(Rachel Michetti), ``chelsea`` (Stefan van der Walt), ``camera`` (Lav Varshney) and the
CC0Textures surfaces ``brick``, ``grass``, ``gravel``. The palette is a k-means clustering of
their pixels: the colours text and backgrounds take in :mod:`.scene_renderer`.
"""
import functools
from typing import Tuple

import cv2
import numpy as np

#: ``skimage.data`` photos used as backgrounds (public domain / CC0; see the module docstring).
PHOTOS = ('astronaut', 'rocket', 'coffee', 'chelsea', 'camera', 'brick', 'grass', 'gravel')
#: Number of palette colours.
PALETTE_SIZE = 24
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@functools.lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """An RGB ``uint8`` (H, W, 3) sample photo of ``skimage.data`` (grey ones repeated)."""
    import skimage.data
    image = getattr(skimage.data, name)()
    return np.ascontiguousarray(np.broadcast_to(image[..., None], image.shape + (3, ))
                                if image.ndim == 2 else image[..., :3])


def photo_patch(rng, size: Tuple[int, int]) -> np.ndarray:
    """A float32 (h, w, 3) patch of a random photo, at a random scale, maybe mirrored."""
    w, h = size
    image = photo(PHOTOS[int(rng.integers(len(PHOTOS)))])
    scale = rng.uniform(0.25, 1.0) * min(image.shape[0] / h, image.shape[1] / w, 4.0)
    ch, cw = max(int(h * scale), 2), max(int(w * scale), 2)
    y, x = int(rng.integers(image.shape[0] - ch + 1)), int(rng.integers(image.shape[1] - cw + 1))
    patch = image[y:y + ch, x:x + cw]
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA if scale > 1
                      else cv2.INTER_LINEAR).astype(np.float32)


@functools.lru_cache(maxsize=None)
def natural_palette() -> np.ndarray:
    """(PALETTE_SIZE, 3) float32 RGB: k-means centres of 4096 random pixels of each photo
    (fixed seed, 15 Lloyd iterations), sorted by luma."""
    rng = np.random.default_rng(0)
    flat = [photo(name).reshape(-1, 3) for name in PHOTOS]
    pixels = np.concatenate([f[rng.integers(0, len(f), 4096)] for f in flat]).astype(np.float32)
    centres = pixels[rng.choice(len(pixels), PALETTE_SIZE, replace=False)]
    for _ in range(15):
        nearest = ((pixels[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        for k in range(PALETTE_SIZE):
            if (nearest == k).any():
                centres[k] = pixels[nearest == k].mean(0)
    return centres[np.argsort(centres @ LUMA)]


def palette_colour(rng, jitter: float = 12.0) -> np.ndarray:
    """A random palette colour, each channel jittered by N(0, ``jitter``); float32 (3, )."""
    palette = natural_palette()
    colour = palette[int(rng.integers(len(palette)))] + rng.normal(0, jitter, 3)
    return np.clip(colour, 0, 255).astype(np.float32)


def contrasting_colour(rng, under: np.ndarray, min_luma_gap: float = 80.0) -> np.ndarray:
    """A text colour for a background of mean colour ``under``: a palette colour (or near black
    / white, the common sign colours) whose luma differs from it by ``min_luma_gap`` or more;
    the farther of black and white when none does."""
    palette = np.concatenate([natural_palette(), [[20, 20, 22], [238, 236, 230]]])
    gaps = np.abs(palette @ LUMA - float(under @ LUMA))
    choices = np.flatnonzero(gaps >= min_luma_gap)
    if len(choices) == 0:
        return palette[-2 if float(under @ LUMA) > 127 else -1].astype(np.float32)
    colour = palette[int(rng.choice(choices))] + rng.normal(0, 8, 3)
    return np.clip(colour, 0, 255).astype(np.float32)
