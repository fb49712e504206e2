"""Rendered scene images with several words, for detector training and end-to-end evaluation.

Each scene: a random background (flat, gradient, noise, lines, plus random shapes as clutter)
with 1..``max_words`` words, each in its own font, size and colour, rotated (up to +-30 deg) and
sometimes perspective-warped, never overlapping. Annotations are the words' quadrilaterals and
texts in MMOCR's text detection / spotting format. Words follow the splits of
:mod:`clip4str_plugin.synth.words` (held-out words for the test split).
"""
from typing import Dict, List, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from clip4str_plugin.synth.backgrounds import background, contrasting_colours
from clip4str_plugin.synth.fonts import select_fonts
from clip4str_plugin.synth.words import WordSampler

CATEGORY = [dict(id=0, name='text')]


class SceneRenderer:
    """Args: seed; size (w, h) of every scene; max_words; fonts ('all' / 'upright'); gray
    (grey levels only, as the recognizer of the main job was trained on)."""

    def __init__(self, seed: int = 0, size: Tuple[int, int] = (320, 320), max_words: int = 5,
                 fonts: str = 'all', gray: bool = False):
        from PIL import ImageFont
        self.rng = np.random.default_rng(seed)
        self.size, self.max_words, self.gray = size, max_words, gray
        self._fonts = select_fonts(fonts)
        self._font = lambda path, px: ImageFont.truetype(path, px)

    def _clutter(self, scene: Image.Image) -> None:
        draw, (w, h), rng = ImageDraw.Draw(scene), self.size, self.rng
        for _ in range(int(rng.integers(0, 6))):
            box = sorted(rng.integers(0, w, 2)), sorted(rng.integers(0, h, 2))
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            fill = (fill[0],) * 3 if self.gray else fill
            shape = (box[0][0], box[1][0], box[0][1], box[1][1])
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(shape, outline=fill,
                                                                      width=2)

    def _word_patch(self, text: str, colour) -> Tuple[np.ndarray, np.ndarray]:
        """An RGBA patch of the word and its quadrilateral in patch coordinates."""
        rng = self.rng
        font = self._font(self._fonts[int(rng.integers(len(self._fonts)))],
                          int(rng.integers(18, 42)))
        left, top, right, bottom = font.getbbox(text)
        pad = 4
        w, h = right - left + 2 * pad, bottom - top + 2 * pad
        patch = Image.new('RGBA', (w, h), (0, 0, 0, 0))
        ImageDraw.Draw(patch).text((pad - left, pad - top), text, font=font, fill=colour + (255,))
        quad = np.float32([[pad, pad], [w - pad, pad], [w - pad, h - pad], [pad, h - pad]])
        patch = np.asarray(patch)
        # rotation (+ expansion) and, sometimes, a mild perspective
        angle = float(rng.uniform(-30, 30)) if rng.random() < 0.7 else 0.0
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        new_w, new_h = int(w * cos + h * sin) + 2, int(w * sin + h * cos) + 2
        matrix[:, 2] += (new_w - w) / 2, (new_h - h) / 2
        full = np.vstack([matrix, [0, 0, 1]]).astype(np.float32)
        if rng.random() < 0.3:
            src = np.float32([[0, 0], [new_w, 0], [new_w, new_h], [0, new_h]])
            inward = np.float32([[1, 1], [-1, 1], [-1, -1], [1, -1]])
            dst = src + rng.uniform(0, 0.08, (4, 2)).astype(np.float32) * \
                np.float32([new_w, new_h]) * inward
            full = cv2.getPerspectiveTransform(src, dst) @ full
        patch = cv2.warpPerspective(patch, full, (new_w, new_h), flags=cv2.INTER_LINEAR)
        quad = cv2.perspectiveTransform(quad[None], full)[0]
        return patch, quad

    def render(self, words: List[str]) -> Tuple[np.ndarray, List[Dict]]:
        """An RGB scene and its instances (``polygon``, ``bbox``, ``text``)."""
        rng, (w, h) = self.rng, self.size
        bg, _ = contrasting_colours(rng, self.gray)
        scene = background(rng, (w, h), bg).convert('RGB')
        self._clutter(scene)
        canvas = np.asarray(scene).astype(np.float32)
        taken, instances = [], []
        for text in words:
            _, fg = contrasting_colours(rng, self.gray)
            while abs(np.dot(np.subtract(fg, bg), [0.299, 0.587, 0.114])) < 90:
                _, fg = contrasting_colours(rng, self.gray)
            patch, quad = self._word_patch(text, fg)
            ph, pw = patch.shape[:2]
            if pw >= w or ph >= h:
                continue
            for _ in range(20):       # a place that overlaps no other word
                x, y = int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph))
                box = (x, y, x + pw, y + ph)
                if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1]
                       for t in taken):
                    break
            else:
                continue
            taken.append(box)
            alpha = patch[:, :, 3:4].astype(np.float32) / 255.0
            region = canvas[y:y + ph, x:x + pw]
            region[:] = region * (1 - alpha) + patch[:, :, :3] * alpha
            polygon = (quad + np.float32([x, y])).reshape(-1)
            xs, ys = polygon[0::2], polygon[1::2]
            instances.append(dict(polygon=[round(float(v), 1) for v in polygon],
                                  bbox=[float(xs.min()), float(ys.min()), float(xs.max()),
                                        float(ys.max())],
                                  bbox_label=0, ignore=False, text=text))
        image = np.clip(canvas, 0, 255).astype(np.uint8)
        if rng.random() < 0.3:
            image = cv2.GaussianBlur(image, (3, 3), float(rng.uniform(0.3, 1.0)))
        return image, instances


def render_scenes(split: str, num: int, seed: int, size=(320, 320), max_words: int = 5,
                  fonts: str = 'all', gray: bool = False, max_len: int = 12,
                  random_fraction: float = 0.1):
    """Yield ``(RGB image, instances)`` for ``num`` scenes of ``split``."""
    words = WordSampler(split, seed, random_fraction=random_fraction, max_len=max_len)
    renderer = SceneRenderer(seed * 7919 + len(split), size, max_words, fonts, gray)
    for _ in range(num):
        count = int(renderer.rng.integers(1, max_words + 1))
        yield renderer.render([words() for _ in range(count)])
