"""Rendered word images: the embedded, download-free data for demos and tests.

Each image gets a random background (flat, gradient, noise, lines), colours with enough contrast,
and some of: outline, shadow, curvature, rotation, perspective, blur, noise, JPEG. Labels come
from :mod:`.words` (disjoint splits), fonts from :mod:`.fonts`.
"""
import io
import string
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from clip4str_plugin.synth.backgrounds import background, contrasting_colours
from clip4str_plugin.text.charsets import CHARSET_94, charset_of
from clip4str_plugin.synth.fonts import font_paths, fonts_drawing
from clip4str_plugin.synth.scene_renderer import SceneRenderer
from clip4str_plugin.synth.word_presets import resolve_fonts
from clip4str_plugin.synth.words import GREEK_LETTERS, SPLITS, WordSampler


def _curve(img: np.ndarray, rng) -> np.ndarray:
    h, w = img.shape[:2]
    amplitude = rng.uniform(0.03, 0.1) * h
    phase, periods = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.8)
    xs = np.arange(w, dtype=np.float32)
    shift = amplitude * np.sin(phase + 2 * np.pi * periods * xs / w)
    map_x = np.tile(xs, (h, 1))
    map_y = np.arange(h, dtype=np.float32)[:, None] + shift[None, :]
    return cv2.remap(img, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _perspective(img: np.ndarray, rng) -> np.ndarray:
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    inward = np.float32([[1, 1], [-1, 1], [-1, -1], [1, -1]])   # corners move inwards only,
    jitter = rng.uniform(0, 0.1, (4, 2)) * np.float32([w, h]) * inward   # so nothing is cut off
    matrix = cv2.getPerspectiveTransform(src, (src + jitter).astype(np.float32))
    return cv2.warpPerspective(img, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


class WordRenderer:
    """Render a text line to an RGB image (H about 32-64 px).

    Args:
        seed: random seed.
        fonts: font files (default: :func:`font_paths`).
        distort: probability of each geometric / photometric variant.
        gray: grey levels only (text and background still random, either polarity).
    """

    def __init__(self, seed: int = 0, fonts: Optional[Sequence[str]] = None,
                 distort: float = 0.25, gray: bool = False):
        self.rng = np.random.default_rng(seed)
        self.fonts = list(fonts or font_paths())
        self.distort, self.gray = distort, gray
        self._font_cache = {}

    def _font(self, path: str, size: int) -> ImageFont.FreeTypeFont:
        key = (path, size)
        if key not in self._font_cache:
            self._font_cache[key] = ImageFont.truetype(path, size)
        return self._font_cache[key]

    def render(self, text: str) -> np.ndarray:
        """An RGB ``uint8`` image of ``text``."""
        rng = self.rng
        font = self._font(self.fonts[int(rng.integers(len(self.fonts)))],
                          int(rng.integers(28, 45)))
        left, top, right, bottom = font.getbbox(text)
        pad_x, pad_y = int(rng.integers(3, 12)), int(rng.integers(4, 12))
        size = (right - left + 2 * pad_x, bottom - top + 2 * pad_y)
        bg, fg = contrasting_colours(rng, self.gray)
        img = background(rng, size, bg)
        draw = ImageDraw.Draw(img)
        origin = (pad_x - left, pad_y - top)
        if rng.random() < self.distort * 0.5:     # drop shadow
            shade = tuple(int(c * 0.5) for c in bg)
            draw.text((origin[0] + 2, origin[1] + 2), text, font=font, fill=shade)
        stroke = int(rng.integers(1, 3)) if rng.random() < self.distort * 0.5 else 0
        draw.text(origin, text, font=font, fill=fg, stroke_width=stroke,
                  stroke_fill=tuple(255 - c for c in fg))
        if rng.random() < self.distort:
            img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
        arr = np.asarray(img)
        if rng.random() < self.distort:
            arr = _curve(arr, rng)
        if rng.random() < self.distort:
            arr = _perspective(arr, rng)
        if rng.random() < self.distort:
            angle = float(rng.uniform(-8, 8))
            arr = np.asarray(Image.fromarray(arr).rotate(angle, Image.BICUBIC, expand=True,
                                                         fillcolor=bg))
        if rng.random() < self.distort:
            arr = np.clip(arr + rng.normal(0, rng.uniform(3, 12), arr.shape), 0,
                          255).astype(np.uint8)
        return np.ascontiguousarray(arr)


def encode_image(rgb: np.ndarray, rng, jpeg: bool = True) -> bytes:
    """JPEG (random quality 40-95) or PNG bytes of an RGB image."""
    buffer = io.BytesIO()
    image = Image.fromarray(rgb)
    if jpeg:
        image.save(buffer, format='JPEG', quality=int(rng.integers(40, 96)))
    else:
        image.save(buffer, format='PNG')
    return buffer.getvalue()


def render_samples(split: str, num: int, seed: int, random_fraction: float = 0.2,
                   max_len: int = 12, distort: float = 0.25, gray: bool = False,
                   fonts: Union[str, Sequence[str]] = 'all', min_len: Optional[int] = None,
                   random_charset: str = CHARSET_94, language: str = 'en',
                   scene: bool = False) -> List[Tuple[bytes, str]]:
    """``num`` encoded (image, label) pairs of ``split``; deterministic for a seed. ``fonts``: a
    :func:`~.fonts.select_fonts` kind, a font set of :mod:`.word_presets` or font files; for
    ``language='el'`` (Greek words, random strings over Greek letters) only the fonts that draw
    all of ``charset_greek.txt``. ``scene``: render scene-text crops
    (:class:`~.scene_renderer.SceneRenderer`) instead of :class:`WordRenderer`'s. The other options
    are :class:`~.words.WordSampler`'s and the renderer's."""
    font_files = resolve_fonts(fonts)
    if not font_files:
        raise ValueError(f'no font files to render with (fonts={fonts!r})')
    if language == 'el':
        font_files = fonts_drawing(font_files, charset_of('charset_greek.txt'))
        random_charset = GREEK_LETTERS + string.digits
    words = WordSampler(split, seed, random_fraction, max_len, random_charset, min_len, language)
    renderer = (SceneRenderer if scene else WordRenderer)(
        seed=seed * 1000 + SPLITS.index(split), fonts=font_files, distort=distort, gray=gray)
    samples = []
    for _ in range(num):
        label = words()
        samples.append((encode_image(renderer.render(label), renderer.rng), label))
    return samples
