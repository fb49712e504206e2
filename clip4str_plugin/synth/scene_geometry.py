"""Geometry of scene text: curved baselines, perspective with rotation, and the word's crop.

Warps act on a premultiplied text layer (:mod:`.font_effects`) plus the word's own mask, on a
canvas with margins, so the background is never warped and the word stays whole on the canvas.
"""
from typing import Optional, Tuple

import cv2
import numpy as np

Box = Tuple[int, int, int, int]


def mask_box(mask: np.ndarray, level: float = 0.25) -> Optional[Box]:
    """(x0, y0, x1, y1), exclusive ends, of the pixels of ``mask`` above ``level``; None if
    there are none."""
    inside = mask > level
    rows, cols = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    if len(rows) == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def curve_maps(h: int, w: int, rng, amplitude: float) -> Tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps bending horizontal lines into an arc or a wave of ``amplitude`` px."""
    xs = np.arange(w, dtype=np.float32)
    t = 2 * xs / max(w - 1, 1) - 1                                        # -1 .. 1
    if rng.random() < 0.6:
        offset = amplitude * (t ** 2 - 0.5) * rng.choice([-2.0, 2.0])     # arc up or down
    else:
        offset = amplitude * np.sin(rng.uniform(0, 2 * np.pi) + rng.uniform(1.5, 4) * t)
    map_x = np.broadcast_to(xs, (h, w))
    map_y = np.arange(h, dtype=np.float32)[:, None] + offset[None, :].astype(np.float32)
    return np.ascontiguousarray(map_x), map_y


def word_homography(box: Box, size: Tuple[int, int], rng, angle: float,
                    tilt: float) -> np.ndarray:
    """3x3 homography rotating the word box by ``angle`` degrees and moving each corner by up
    to ``tilt`` times the box height (perspective), then centring it on the canvas ``size``
    (w, h), shrunk if it would not fit with a margin of 5 %."""
    x0, y0, x1, y1 = box
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    centre = src.mean(0)
    jitter = rng.uniform(-tilt, tilt, (4, 2)).astype(np.float32) * (y1 - y0)
    theta = np.deg2rad(angle)
    rotation = np.float32([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    dst = (src - centre + jitter) @ rotation.T
    extent = dst.max(0) - dst.min(0)
    scale = min(1.0, *(0.9 * np.float32(size) / np.maximum(extent, 1)))
    dst = (dst - (dst.max(0) + dst.min(0)) / 2) * scale + np.float32(size) / 2
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def warp(layer, word_mask: np.ndarray, rng, amplitude: float = 0.0, angle: float = 0.0,
         tilt: float = 0.0):
    """``(layer, word_mask)`` curved by ``amplitude`` px, then rotated / tilted
    (:func:`word_homography`); the layer is (rgb, alpha) as in :mod:`.font_effects`."""
    rgb, alpha = layer
    h, w = word_mask.shape
    stack = np.dstack([rgb, alpha, word_mask])
    if amplitude > 0:
        map_x, map_y = curve_maps(h, w, rng, amplitude)
        stack = cv2.remap(stack, map_x, map_y, cv2.INTER_LINEAR)
    box = mask_box(stack[..., 4])
    if (angle or tilt) and box is not None:
        matrix = word_homography(box, (w, h), rng, angle, tilt)
        stack = cv2.warpPerspective(stack, matrix, (w, h), flags=cv2.INTER_LINEAR)
    return (stack[..., :3], stack[..., 3]), stack[..., 4]


def crop_box(mask: np.ndarray, rng, loose: bool) -> Box:
    """A crop around the word of ``mask``: tight (margins 0-8 % of the word's height) or loose
    (10-80 % of it left and right, 10-50 % above and below, showing neighbouring text), within
    the canvas."""
    h, w = mask.shape
    x0, y0, x1, y1 = mask_box(mask) or (0, 0, w, h)
    high = np.float32([0.8, 0.5, 0.8, 0.5]) if loose else np.full(4, 0.08, np.float32)
    mx0, my0, mx1, my1 = (rng.uniform(0.1 if loose else 0.0, high) * (y1 - y0)).astype(int)
    return max(x0 - mx0, 0), max(y0 - my0, 0), min(x1 + mx1, w), min(y1 + my1, h)
