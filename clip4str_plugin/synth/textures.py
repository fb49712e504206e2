"""Procedural photo-like backgrounds for scene text: fractal noise, wood, brick, stone, blurred
shapes, gradients, flat paint, and patches of real photos (:mod:`.photo_patches`).

Every texture is a float32 (h, w, 3) RGB array in [0, 255], coloured from the natural palette.
"""
from typing import Tuple

import cv2
import numpy as np

from clip4str_plugin.synth.photo_patches import palette_colour, photo_patch


def fractal_noise(rng, h: int, w: int, octaves: int = 5, base: int = 4) -> np.ndarray:
    """(h, w) float32 fractal (1/f) noise in [0, 1]: random grids of ``base * 2**k`` cells
    resized smoothly and summed with weights ``2**-k``."""
    total = np.zeros((h, w), np.float32)
    for k in range(octaves):
        cells = base * 2 ** k
        grid = rng.random((max(cells * h // max(w, h), 2), max(cells * w // max(w, h), 2)))
        total += cv2.resize(grid.astype(np.float32), (w, h),
                            interpolation=cv2.INTER_CUBIC) * 0.5 ** k
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _mix(field: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return low + field[..., None] * (high - low)


def _two_colours(rng, spread: float = 70.0):
    low = palette_colour(rng)
    return low, np.clip(low + rng.normal(0, spread, 3), 0, 255).astype(np.float32)


def noise_texture(rng, h: int, w: int) -> np.ndarray:
    """Fractal noise between two related colours (plaster, foliage, fabric at a distance)."""
    return _mix(fractal_noise(rng, h, w), *_two_colours(rng))


def wood(rng, h: int, w: int) -> np.ndarray:
    """Growth rings: distance to a far centre, disturbed by noise, folded into bands."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(-3, 4) * h, rng.uniform(-1, 2) * w
    distance = np.hypot((ys - cy) * rng.uniform(2, 6), xs - cx)
    rings = distance / rng.uniform(6, 20) + 4 * fractal_noise(rng, h, w)
    field = (0.5 + 0.5 * np.sin(rings)) ** 2
    light = np.float32([rng.uniform(150, 215), rng.uniform(95, 150), rng.uniform(50, 95)])
    return _mix(field, light * rng.uniform(0.45, 0.7), light)


def brick(rng, h: int, w: int) -> np.ndarray:
    """Courses of bricks in running bond with mortar joints, each brick its own shade."""
    bh = int(rng.integers(10, 28))
    bw = int(bh * rng.uniform(2, 3.5))
    ys, xs = np.mgrid[0:h, 0:w]
    row = ys // bh
    xo = xs + (row % 2) * (bw // 2)
    col = xo // bw
    joint = max(1, bh // 8)
    mortar = ((ys % bh) < joint) | ((xo % bw) < joint)
    brick_colour = palette_colour(rng, 6)
    shades = rng.uniform(0.75, 1.15, (int(row.max()) + 1, int(col.max()) + 1)).astype(np.float32)
    image = brick_colour * shades[row, col][..., None]
    image *= (0.85 + 0.3 * fractal_noise(rng, h, w, base=8))[..., None]
    image[mortar] = np.float32(rng.uniform(150, 220)) * np.float32([1, 0.97, 0.92])
    return np.clip(image, 0, 255)


def stone(rng, h: int, w: int) -> np.ndarray:
    """Marble / granite: sine veins bent by fractal noise, speckled."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    veins = np.sin((xs * np.cos(angle) + ys * np.sin(angle)) / rng.uniform(8, 30)
                   + rng.uniform(3, 9) * fractal_noise(rng, h, w))
    field = np.abs(veins) ** 0.5 * 0.8 + 0.2 * rng.random((h, w), np.float32)
    return _mix(field, *_two_colours(rng, 50))


def blobs(rng, h: int, w: int) -> np.ndarray:
    """Out-of-focus shapes (ellipses and bars of palette colours, blurred) on a base colour."""
    image = np.empty((h, w, 3), np.float32)
    image[:] = palette_colour(rng)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(float(c) for c in palette_colour(rng))
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        if rng.random() < 0.6:
            axes = (int(rng.integers(4, max(w // 3, 5))), int(rng.integers(4, max(h, 5))))
            cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            cv2.rectangle(image, centre, (int(rng.integers(w)), int(rng.integers(h))), colour, -1)
    sigma = float(rng.uniform(2, 8))
    return cv2.GaussianBlur(image, (0, 0), sigma)


def gradient(rng, h: int, w: int) -> np.ndarray:
    """A linear ramp between two palette colours in a random direction."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return _mix(ramp, palette_colour(rng), palette_colour(rng))


def flat(rng, h: int, w: int) -> np.ndarray:
    """Flat paint (a sign plate) with faint grain."""
    grain = rng.normal(0, 3, (h, w, 1)).astype(np.float32)
    return np.clip(palette_colour(rng) + grain, 0, 255)


def photo(rng, h: int, w: int) -> np.ndarray:
    """A patch of a real photo (:func:`.photo_patches.photo_patch`)."""
    return photo_patch(rng, (w, h))


#: Background kinds and their sampling weights.
BACKGROUNDS = {'photo': 0.35, 'noise': 0.12, 'wood': 0.08, 'brick': 0.08, 'stone': 0.1,
               'blobs': 0.1, 'gradient': 0.1, 'flat': 0.07}
_MAKERS = dict(photo=photo, noise=noise_texture, wood=wood, brick=brick, stone=stone,
               blobs=blobs, gradient=gradient, flat=flat)


def scene_background(rng, size: Tuple[int, int], kinds=tuple(BACKGROUNDS)) -> np.ndarray:
    """A float32 (h, w, 3) background of ``size`` (w, h), its kind drawn from ``kinds`` with
    the weights of :data:`BACKGROUNDS`."""
    weights = np.array([BACKGROUNDS[k] for k in kinds])
    kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    return _MAKERS[kind](rng, size[1], size[0]).astype(np.float32)
