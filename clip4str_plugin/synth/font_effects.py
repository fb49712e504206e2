"""Font effects of scene text on glyph masks: stroke thickness, outline, drop shadow, 3-D
extrusion and bevel shading, composed into one premultiplied RGBA text layer.

Masks are float32 (h, w) coverage in [0, 1]; colours float32 RGB (3, ) in [0, 255]. A layer is
``(rgb, alpha)``: premultiplied float32 (h, w, 3) and (h, w), so it warps and composes linearly.
"""
from typing import Tuple

import cv2
import numpy as np

Layer = Tuple[np.ndarray, np.ndarray]


def empty_layer(h: int, w: int) -> Layer:
    """A transparent layer of (h, w)."""
    return np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)


def over(layer: Layer, colour, alpha: np.ndarray) -> Layer:
    """``layer`` with paint of ``colour`` ((3, ) or (h, w, 3)) and coverage ``alpha`` on top."""
    rgb, below = layer
    rgb = rgb * (1 - alpha)[..., None]
    rgb += colour * alpha[..., None]
    return rgb, below * (1 - alpha) + alpha


def shift(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``mask`` moved by (dx, dy) pixels, zeros where nothing moved in."""
    moved = np.zeros_like(mask)
    h, w = mask.shape
    moved[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return moved


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def stroke_width(mask: np.ndarray, radius: int) -> np.ndarray:
    """Thicker (``radius`` > 0: dilated) or thinner (< 0: eroded) glyph strokes."""
    if radius == 0:
        return mask
    op = cv2.dilate if radius > 0 else cv2.erode
    return op(mask, _disc(abs(radius)))


def outline(mask: np.ndarray, radius: int) -> np.ndarray:
    """Coverage of a border ``radius`` px wide around the glyphs (glyphs included)."""
    return cv2.dilate(mask, _disc(radius))


def drop_shadow(mask: np.ndarray, dx: int, dy: int, blur: float, strength: float) -> np.ndarray:
    """Coverage of a shadow: the glyphs moved by (dx, dy), blurred by ``blur`` px, times
    ``strength``."""
    shadow = shift(mask, dx, dy)
    if blur > 0:
        shadow = cv2.GaussianBlur(shadow, (0, 0), blur)
    return shadow * strength


def extrusion(mask: np.ndarray, dx: int, dy: int, depth: int) -> np.ndarray:
    """Coverage of a 3-D extrusion: the glyphs repeated 1..``depth`` px along (dx, dy) in
    {-1, 0, 1}."""
    return np.max([shift(mask, dx * k, dy * k) for k in range(1, depth + 1)], axis=0)


def bevel(mask: np.ndarray, colour, width: float, angle: float, strength: float) -> np.ndarray:
    """Per-pixel (h, w, 3) colour of bevelled glyphs lit from ``angle`` (radians): the slope of
    the mask blurred by ``width`` px brightens edges facing the light and darkens the others
    (by up to ``strength * 120`` levels)."""
    height = cv2.GaussianBlur(mask, (0, 0), width)
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3)
    slope = -(gx * np.cos(angle) + gy * np.sin(angle))      # edges facing the light: > 0
    slope /= max(float(np.abs(slope).max()), 1e-6)
    return np.clip(np.asarray(colour, np.float32) + (strength * 120) * slope[..., None], 0, 255)
