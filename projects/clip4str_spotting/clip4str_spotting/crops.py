"""Cropping detected text for recognition: MMOCR's axis-aligned crop, or a rectified one."""
from typing import Optional, Sequence

import cv2
import numpy as np


def polygon_points(polygon: Sequence[float]) -> Optional[np.ndarray]:
    """``(N, 2)`` float32 points of a flat polygon, or None when it is degenerate (fewer than
    three points, non-finite values or no area)."""
    pts = np.asarray(polygon, dtype=np.float32).reshape(-1)
    if pts.size < 6 or pts.size % 2 or not np.isfinite(pts).all():
        return None
    pts = pts.reshape(-1, 2)
    if cv2.contourArea(pts) < 1.0:
        return None
    return pts


def rectified_crop(image: np.ndarray, polygon: Sequence[float],
                   pad: float = 0.0) -> Optional[np.ndarray]:
    """Warp the polygon's minimum-area rectangle, grown by ``pad`` times its height on every
    side, to an upright image, reading direction left to right (the longer side horizontal).
    None for a degenerate polygon or an empty crop."""
    pts = polygon_points(polygon)
    if pts is None:
        return None
    corners = cv2.boxPoints(cv2.minAreaRect(pts)).astype(np.float32)
    centre = corners.mean(axis=0)
    # clockwise on screen (y down): top-left, top-right, bottom-right, bottom-left
    corners = corners[np.argsort(np.arctan2(*(corners - centre).T[::-1]))]
    edges = np.roll(corners, -1, axis=0) - corners
    lengths = np.linalg.norm(edges, axis=1)
    # the top edge: a long side running left to right (upright text reads that way)
    start = max(range(4), key=lambda i: (lengths[i] >= lengths[(i + 1) % 4] - 1e-3,
                                         edges[i][0], -edges[i][1]))
    corners = np.roll(corners, -start, axis=0)
    width, height = lengths[start], lengths[(start + 1) % 4]
    if pad and height > 0:
        across = (corners[1] - corners[0]) / max(width, 1e-6)     # left to right
        down = (corners[3] - corners[0]) / height                  # top to bottom
        grow = pad * height
        corners = corners + grow * np.float32([-across - down, across - down, across + down,
                                                -across + down])
        width, height = width + 2 * grow, height + 2 * grow
    w, h = int(round(width)), int(round(height))
    if w < 1 or h < 1:
        return None
    target = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)


def axis_aligned_crop(image: np.ndarray, polygon: Sequence[float]) -> Optional[np.ndarray]:
    """MMOCR's inferencer crop (bounding box, padded 0.4 / 0.2 of the short side, clipped);
    None for a degenerate polygon or a zero-size crop."""
    from mmocr.utils import bbox2poly, crop_img, poly2bbox
    pts = polygon_points(polygon)
    if pts is None:
        return None
    crop = crop_img(image, bbox2poly(poly2bbox(pts.reshape(-1))).tolist())
    return crop if crop.size and min(crop.shape[:2]) >= 1 else None


def crop_text(image: np.ndarray, polygon: Sequence[float], rectify: bool,
              pad: float = 0.0) -> Optional[np.ndarray]:
    """The rectified crop (grown by ``pad``) or MMOCR's axis-aligned one."""
    return rectified_crop(image, polygon, pad) if rectify else axis_aligned_crop(image, polygon)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, grey+alpha, BGR, BGRA, 16-bit) as 8-bit 3-channel BGR."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 2:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
