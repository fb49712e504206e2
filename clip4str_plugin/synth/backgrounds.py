"""Backgrounds and colours shared by the word and scene renderers."""
from typing import Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw


def contrasting_colours(rng, gray: bool = False) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Background and text colours whose luma differs by more than 90 (either polarity)."""
    luma = np.array([0.299, 0.587, 0.114])
    while True:
        bg, fg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if gray:
            bg, fg = np.repeat(bg[:1], 3), np.repeat(fg[:1], 3)
        if abs(float(luma @ bg) - float(luma @ fg)) > 90:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def background(rng, size: Tuple[int, int], colour) -> Image.Image:
    w, h = size
    kind = rng.integers(4)
    gray = len(set(colour)) == 1
    base = np.empty((h, w, 3), np.float32)
    base[:] = colour

    def shift(spread):
        delta = rng.integers(-spread, spread + 1, 3)
        return np.repeat(delta[:1], 3) if gray else delta

    if kind == 1:      # gradient
        other = np.array(colour) + shift(60)
        ramp = np.linspace(0, 1, w if rng.random() < .5 else h, dtype=np.float32)
        ramp = ramp[None, :, None] if len(ramp) == w else ramp[:, None, None]
        base = base * (1 - ramp) + other * ramp
    elif kind == 2:    # smooth noise texture
        noise = rng.normal(0, 25, (max(h // 4, 1), max(w // 4, 1), 1 if gray else 3))
        noise = np.broadcast_to(noise, noise.shape[:2] + (3, )).astype(np.float32)
        base += cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    elif kind == 3:    # a few faint lines
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 4))):
            tint = tuple(int(c) for c in np.clip(np.array(colour) + shift(50), 0, 255))
            draw.line([tuple(rng.integers(0, [w, h])), tuple(rng.integers(0, [w, h]))],
                      fill=tint, width=int(rng.integers(1, 3)))
        return img
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
