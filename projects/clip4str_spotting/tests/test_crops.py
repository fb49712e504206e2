"""Crops for recognition: rectification of a known rotated quadrilateral, degenerate input."""
import cv2
import numpy as np

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from projects.clip4str_spotting.clip4str_spotting.crops import (axis_aligned_crop, crop_text,
                                                                polygon_points, rectified_crop,
                                                                to_bgr)


def rotated_text_scene(angle):
    """A 40x120 white bar with a black left half, rotated by ``angle`` inside a 300x300
    scene; returns the scene and the bar's rotated corners (TL, TR, BR, BL)."""
    scene = np.full((300, 300, 3), 128, np.uint8)
    bar = np.full((40, 120, 3), 255, np.uint8)
    bar[:, :60] = 0
    corners = np.float32([[90, 130], [210, 130], [210, 170], [90, 170]])
    matrix = cv2.getRotationMatrix2D((150, 150), angle, 1.0)
    warp = cv2.getAffineTransform(np.float32([[0, 0], [120, 0], [120, 40]]), corners[:3])
    patch = cv2.warpAffine(bar, warp, (300, 300), flags=cv2.INTER_NEAREST)
    mask = cv2.warpAffine(np.full((40, 120), 255, np.uint8), warp, (300, 300))
    scene[mask > 0] = patch[mask > 0]
    scene = cv2.warpAffine(scene, matrix, (300, 300), borderValue=(128, 128, 128))
    quad = cv2.transform(corners[None], matrix)[0]
    return scene, quad


def test_rectifies_a_rotated_quad():
    for angle in (25, -35, 0):
        scene, quad = rotated_text_scene(angle)
        crop = rectified_crop(scene, quad.reshape(-1))
        assert abs(crop.shape[1] - 120) <= 2 and abs(crop.shape[0] - 40) <= 2
        gray = crop.mean(axis=2)
        left, right = gray[5:-5, 5:50].mean(), gray[5:-5, -50:-5].mean()
        assert left < 40 and right > 215, (angle, left, right)   # upright, not mirrored
        # the corner order of the input does not matter
        assert rectified_crop(scene, np.roll(quad, 3, axis=0).reshape(-1)).shape == crop.shape


def test_rectified_crop_grows_by_the_margin():
    scene, quad = rotated_text_scene(25)
    crop = rectified_crop(scene, quad.reshape(-1), pad=0.25)      # 10 px on every side
    assert abs(crop.shape[1] - 140) <= 2 and abs(crop.shape[0] - 60) <= 2
    gray = crop.mean(axis=2)
    assert gray[15:-15, 15:60].mean() < 60 and gray[15:-15, -60:-15].mean() > 200


def test_axis_aligned_crop_is_mmocrs():
    scene, quad = rotated_text_scene(30)
    crop = axis_aligned_crop(scene, quad.reshape(-1))
    xs, ys = quad[:, 0], quad[:, 1]
    assert crop.shape[0] >= ys.max() - ys.min() and crop.shape[1] >= xs.max() - xs.min()


def test_degenerate_polygons_are_skipped():
    scene = np.zeros((50, 50, 3), np.uint8)
    for bad in ([], [1, 2, 3, 4], [5, 5, 5, 5, 5, 5, 5, 5], [0, 0, 10, 0, 20, 0, 30, 0],
                [0, 0, np.nan, 1, 3, 3, 0, 4], [1, 2, 3]):
        assert polygon_points(bad) is None
        assert crop_text(scene, bad, rectify=True) is None
        assert crop_text(scene, bad, rectify=False) is None
    # a polygon outside the image gives no crop rather than an error
    assert crop_text(scene, [100, 100, 140, 100, 140, 120, 100, 120], rectify=False) is None


def test_any_image_becomes_bgr():
    assert to_bgr(np.zeros((5, 6), np.uint8)).shape == (5, 6, 3)
    assert to_bgr(np.zeros((5, 6, 4), np.uint8)).shape == (5, 6, 3)
    assert to_bgr(np.zeros((5, 6, 2), np.uint8)).shape == (5, 6, 3)
    assert to_bgr(np.full((5, 6), 4095, np.uint16)).dtype == np.uint8
