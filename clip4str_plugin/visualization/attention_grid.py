"""Attention maps drawn over the image the model read: a row per branch, a panel per character.

The panels are composed into one picture (numpy, OpenCV's resize) and drawn on one matplotlib
axes with the characters as titles, so a 26-character word costs one image, not 52 axes.
"""
from typing import Mapping, Tuple

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .attention_maps import BranchMaps

#: how a few invisible characters are titled
VISIBLE = {' ': '␣', '\t': '⇥'}
#: pixels: between panels, above each panel (its title), left of each row (its label)
GAP, TITLE, LABEL = 4, 20, 110


def panel_origin(row: int, col: int, panel_shape: Tuple[int, int]) -> Tuple[int, int]:
    """``(y, x)`` of panel ``(row, col)``'s top-left pixel in the mosaic."""
    height, width = panel_shape
    return TITLE + row * (height + TITLE + GAP), LABEL + col * (width + GAP)


def overlay(image: np.ndarray, attention: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``image (H, W, 3)`` uint8 blended with ``attention (rows, cols)`` stretched over it
    (bilinear) in the jet colormap, scaled to its own range."""
    height, width = image.shape[:2]
    heat = cv2.resize(attention.astype(np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
    colored = colormaps['jet'](heat)[..., :3] * 255
    return ((1 - alpha) * image + alpha * colored).round().astype(np.uint8)


def attention_mosaic(image: np.ndarray, branches: Mapping[str, BranchMaps]) -> np.ndarray:
    """White canvas ``(rows * (H + TITLE + GAP), LABEL + cols * (W + GAP), 3)``: the image
    under each character's map, at :func:`panel_origin`; a branch that decoded nothing gets the
    image alone."""
    height, width = image.shape[:2]
    cols = max([len(b.text) for b in branches.values()] + [1])
    top, left = panel_origin(len(branches), cols, (height, width))
    canvas = np.full((top - TITLE, left, 3), 255, np.uint8)
    for row, branch in enumerate(branches.values()):
        panels = [overlay(image, m) for m in branch.maps[:len(branch.text)]] or [image]
        for col, panel in enumerate(panels):
            y, x = panel_origin(row, col, (height, width))
            canvas[y:y + height, x:x + width] = panel
    return canvas


def draw_attention_grid(image: np.ndarray, branches: Mapping[str, BranchMaps],
                        min_height: int = 64, dpi: int = 100) -> Figure:
    """A figure of ``image (H, W, 3)`` RGB uint8 (enlarged to ``min_height`` rows) under every
    decoded character's map: a row per branch (``visual``, ``cross``, ...) labelled with the
    branch and the decoding pass the maps come from, a panel per character titled with it."""
    scale = max(1, -(-min_height // image.shape[0]))
    if scale > 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    shape = image.shape[:2]
    mosaic = attention_mosaic(image, branches)
    fig = Figure(figsize=(mosaic.shape[1] / dpi, mosaic.shape[0] / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.imshow(mosaic, interpolation='nearest')
    for row, (name, branch) in enumerate(branches.items()):
        y, _ = panel_origin(row, 0, shape)
        ax.text(4, y + shape[0] / 2, f'{name}\n({branch.source})', va='center', fontsize=9)
        titles = [VISIBLE.get(c, c) for c in branch.text] or ['(nothing decoded)']
        for col, title in enumerate(titles):
            y, x = panel_origin(row, col, shape)
            ax.text(x + shape[1] / 2, y - 3, title, ha='center', va='bottom', fontsize=11)
    return fig
