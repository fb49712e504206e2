"""Rendered word images: the embedded, download-free data for demos and tests.

Words come from a real English word list (``english-words``, web2) in three casings, plus random
strings over the 94 printable ASCII characters. Fonts come from packages (matplotlib's DejaVu and
STIX, and any TrueType fonts under /usr/share/fonts); only fonts that draw all 94 characters are
used. Each image gets a random background (flat, gradient, noise, lines), colours with enough
contrast, and some of: outline, shadow, curvature, rotation, perspective, blur, noise, JPEG.

Splits are disjoint by construction: a word belongs to exactly one of train / val / test (by a
hash of its lower-cased form), and random strings for val / test are drawn from separate seeds and
dropped if they could occur in train, so held-out words are never seen in training.
"""
import functools
import glob
import io
import os
import string
import zlib
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CHARSET_94 = string.digits + string.ascii_lowercase + string.ascii_uppercase + string.punctuation
SPLITS = ('train', 'val', 'test')


@functools.lru_cache(maxsize=None)
def font_paths(system_fonts: bool = False) -> Tuple[str, ...]:
    """TrueType fonts that have glyphs for all 94 characters: matplotlib's (DejaVu, STIX; the
    same on every machine), plus those under /usr/share/fonts with ``system_fonts``."""
    import matplotlib
    from fontTools.ttLib import TTFont
    candidates = sorted(glob.glob(os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf',
                                               '*.ttf')))
    if system_fonts:
        candidates += sorted(glob.glob('/usr/share/fonts/truetype/**/*.ttf', recursive=True))
    usable, seen = [], set()
    for path in candidates:
        name = os.path.basename(path)
        if name in seen or 'Display' in name or name.startswith(('cm', 'LastResort')):
            continue
        try:
            cmap = TTFont(path, lazy=True).getBestCmap() or {}
        except Exception:  # an unreadable font file is simply not used
            continue
        if all(ord(c) in cmap for c in CHARSET_94):
            usable.append(path)
            seen.add(name)
    if not usable:
        raise RuntimeError('no TrueType font with all 94 printable ASCII characters found '
                           '(matplotlib ships DejaVu; is it installed?)')
    return tuple(usable)


#: Smaller font sets for quick demos: the upright DejaVu faces; DejaVu Sans (the CPU demo).
UPRIGHT_FONTS = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf',
                 'DejaVuSerif-Bold.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf')
SANS_FONTS = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf')


def select_fonts(kind: str = 'all') -> Tuple[str, ...]:
    """'all' package fonts, 'upright' (the six upright DejaVu faces), 'sans' (DejaVu Sans and
    Sans Bold: the CPU demo's) or 'system' (all, plus /usr/share/fonts)."""
    if kind in ('upright', 'sans'):
        names = UPRIGHT_FONTS if kind == 'upright' else SANS_FONTS
        return tuple(p for p in font_paths() if os.path.basename(p) in names)
    if kind in ('all', 'system'):
        return font_paths(system_fonts=kind == 'system')
    raise ValueError(f"fonts must be 'all', 'upright', 'sans' or 'system', not {kind!r}")


def split_of(word: str) -> str:
    """Deterministic split of a word: 90 % train, 5 % val, 5 % test (case-insensitive)."""
    bucket = zlib.crc32(word.lower().encode()) % 20
    return 'test' if bucket == 0 else 'val' if bucket == 1 else 'train'


@functools.lru_cache(maxsize=None)
def word_list(split: str, max_len: int = 25) -> Tuple[str, ...]:
    """Alphabetic words of ``split`` from the web2 word list (``english-words``)."""
    from english_words import get_english_words_set
    words = get_english_words_set(['web2'], lower=False, alpha=True)
    return tuple(sorted(w for w in words if 2 <= len(w) <= max_len and split_of(w) == split))


class WordSampler:
    """Labels for one split: dictionary words (lower / Capitalised / UPPER) and random strings.

    Args:
        split: 'train', 'val' or 'test'.
        seed: random seed.
        random_fraction: share of random strings over ``charset``.
        max_len: longest label (words and random strings).
    """

    def __init__(self, split: str, seed: int = 0, random_fraction: float = 0.2,
                 max_len: int = 12, charset: str = CHARSET_94):
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self.split, self.words = split, word_list(split, max_len)
        self.rng = np.random.default_rng([seed, SPLITS.index(split)])
        self.random_fraction, self.charset = random_fraction, charset
        self.max_len = max_len

    def _random_string(self) -> str:
        while True:
            length = int(self.rng.integers(1, self.max_len + 1))
            text = ''.join(self.rng.choice(list(self.charset), length))
            if self.split == 'train' or split_of(text) == self.split:
                return text

    def __call__(self) -> str:
        if self.rng.random() < self.random_fraction:
            return self._random_string()
        word = self.words[int(self.rng.integers(len(self.words)))]
        case = self.rng.random()
        return word.upper() if case < 0.2 else word.capitalize() if case < 0.5 else word.lower()


def _contrasting_colours(rng, gray: bool = False) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Background and text colours whose luma differs by more than 90 (either polarity)."""
    luma = np.array([0.299, 0.587, 0.114])
    while True:
        bg, fg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if gray:
            bg, fg = np.repeat(bg[:1], 3), np.repeat(fg[:1], 3)
        if abs(float(luma @ bg) - float(luma @ fg)) > 90:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def _background(rng, size: Tuple[int, int], colour) -> Image.Image:
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
        bg, fg = _contrasting_colours(rng, self.gray)
        img = _background(rng, size, bg)
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
                   fonts: str = 'all') -> List[Tuple[bytes, str]]:
    """``num`` encoded (image, label) pairs of ``split``; deterministic for a seed."""
    words = WordSampler(split, seed, random_fraction, max_len)
    renderer = WordRenderer(seed=seed * 1000 + SPLITS.index(split), fonts=select_fonts(fonts),
                            distort=distort, gray=gray)
    samples = []
    for _ in range(num):
        label = words()
        samples.append((encode_image(renderer.render(label), renderer.rng), label))
    return samples
