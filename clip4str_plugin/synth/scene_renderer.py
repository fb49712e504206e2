"""Scene-text word crops, after MJSynth (Jaderberg et al. 2014) and SynthText (Gupta et al.
2016): a word, with neighbouring text, drawn with font effects on a photo or photo-like texture
in natural colours, bent and seen in perspective, cropped tightly or loosely, then degraded like
a camera would (uneven light, blur, low resolution, noise, JPEG).

Layers: :mod:`.textures` / :mod:`.photo_patches` (backgrounds, colours), :mod:`.font_effects`,
:mod:`.scene_geometry`, :mod:`.scene_degrade`. The ``scene`` preset of :mod:`.word_presets`.
"""
from typing import Dict, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from clip4str_plugin.synth import font_effects as fx
from clip4str_plugin.synth import scene_degrade as degrade
from clip4str_plugin.synth.fonts import font_paths
from clip4str_plugin.synth.photo_patches import LUMA, contrasting_colour
from clip4str_plugin.synth.scene_geometry import crop_box, warp
from clip4str_plugin.synth.textures import BACKGROUNDS, scene_background

#: Optional effects, each applied with its own probability (``distort`` unless given).
EFFECTS = ('stroke', 'shadow', 'extrude', 'outline', 'bevel', 'curve', 'perspective',
           'neighbours', 'loose', 'light', 'blur', 'low_res', 'noise', 'jpeg')


class SceneRenderer:
    """Render a word as a scene-text crop: RGB ``uint8`` (h, w, 3), h about 20-160 px.

    Args:
        seed: random seed (the images depend on it only).
        fonts: font files (default: :func:`~.fonts.font_paths`).
        distort: probability of each effect of :data:`EFFECTS`.
        gray: grey-level output.
        effects: probabilities of some effects, replacing ``distort`` for them.
        backgrounds: background kinds of :data:`~.textures.BACKGROUNDS` to draw from (all).
    """

    def __init__(self, seed: int = 0, fonts: Optional[Sequence[str]] = None,
                 distort: float = 0.5, gray: bool = False,
                 effects: Optional[Dict[str, float]] = None,
                 backgrounds: Optional[Sequence[str]] = None):
        unknown = sorted(set(effects or ()) - set(EFFECTS)) + sorted(
            set(backgrounds or ()) - set(BACKGROUNDS))
        if unknown:
            raise ValueError(f'unknown scene effects or backgrounds: {", ".join(unknown)}; '
                             f'effects: {", ".join(EFFECTS)}; backgrounds: '
                             f'{", ".join(BACKGROUNDS)}')
        self.rng = np.random.default_rng(seed)
        self.fonts = list(fonts or font_paths())
        self.gray = gray
        self.chances = dict({name: distort for name in EFFECTS}, **(effects or {}))
        self.backgrounds = tuple(backgrounds or BACKGROUNDS)
        self._font_cache = {}

    def _font(self, path: str, size: int) -> ImageFont.FreeTypeFont:
        if (path, size) not in self._font_cache:
            self._font_cache[(path, size)] = ImageFont.truetype(path, size)
        return self._font_cache[(path, size)]

    def _chance(self, effect: str) -> bool:
        return self.rng.random() < self.chances[effect]      # one draw each, applied or not

    def _neighbour(self, text: str, length: int) -> str:
        return ''.join(self.rng.choice(list(text.replace(' ', '') or 'a'), length))

    def _masks(self, text: str, font, size: int, tilted: bool):
        """The word's mask and the mask of all glyphs (word and neighbours) on a canvas with
        margins for a loose crop and a curve (``tilted``: for a rotation and perspective too);
        float32 (H, W) in [0, 1]."""
        rng = self.rng
        left, top, right, bottom = font.getbbox(text)
        width, height = right - left, bottom - top
        if tilted:
            mx, my = int(0.1 * width + 0.7 * size), int(0.1 * width + 1.1 * size)
        else:
            mx, my = size, int(0.8 * size)
        canvas = (width + 2 * mx, height + 2 * my)
        word = Image.new('L', canvas)
        origin = (mx - left, my - top)
        ImageDraw.Draw(word).text(origin, text, font=font, fill=255)
        glyphs = word.copy()
        if self._chance('neighbours'):
            draw = ImageDraw.Draw(glyphs)
            gap = size * rng.uniform(0.1, 0.5)
            before = self._neighbour(text, int(rng.integers(2, 8)))
            draw.text((origin[0] - gap - font.getlength(before), origin[1]), before, font=font,
                      fill=255)
            draw.text((origin[0] + font.getlength(text) + gap, origin[1]),
                      self._neighbour(text, int(rng.integers(2, 8))), font=font, fill=255)
            for side in (-1, 1):
                if rng.random() < 0.5:
                    line = self._neighbour(text, int(rng.integers(4, 4 + 2 * len(text))))
                    y = origin[1] + side * size * rng.uniform(0.9, 1.25)
                    draw.text((rng.uniform(0, mx), y), line, font=font, fill=255)
        return (np.asarray(word, np.float32) / 255, np.asarray(glyphs, np.float32) / 255)

    def _text_layer(self, glyphs: np.ndarray, colour: np.ndarray, under: np.ndarray,
                    size: int) -> fx.Layer:
        """Shadow, extrusion, outline and the (maybe bevelled) fill of ``glyphs``."""
        rng = self.rng
        layer = fx.empty_layer(*glyphs.shape)
        if self._chance('shadow'):
            dx, dy = rng.integers(1, max(size // 10, 2) + 1, 2) * rng.choice([-1, 1], 2)
            shadow = fx.drop_shadow(glyphs, int(dx), int(dy), rng.uniform(0, size / 15),
                                    rng.uniform(0.5, 0.9))
            layer = fx.over(layer, under * rng.uniform(0.1, 0.4), shadow)
        if self._chance('extrude'):
            dx, dy = [(1, 1), (-1, 1), (1, -1), (0, 1), (1, 0)][int(rng.integers(5))]
            depth = int(rng.integers(2, max(size // 8, 3) + 1))
            layer = fx.over(layer, colour * rng.uniform(0.35, 0.65),
                            fx.extrusion(glyphs, dx, dy, depth))
        if self._chance('outline'):
            radius = int(rng.integers(1, max(size // 14, 1) + 1))
            layer = fx.over(layer, contrasting_colour(rng, colour),
                            fx.outline(glyphs, radius))
        fill = colour
        if self._chance('bevel'):
            fill = fx.bevel(glyphs, colour, rng.uniform(1, max(size / 12, 1.5)),
                            rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.7))
        return fx.over(layer, fill, glyphs)

    def _degrade(self, image: np.ndarray) -> np.ndarray:
        rng = self.rng
        if self._chance('light'):
            image = degrade.uneven_light(image, rng, rng.uniform(0.2, 0.6))
        if self._chance('blur'):
            if rng.random() < 0.5:
                image = degrade.gaussian_blur(image, rng.uniform(0.5, 1.6))
            else:
                image = degrade.motion_blur(image, int(rng.integers(3, 8)), rng.uniform(0, 180))
        if self._chance('low_res'):
            image = degrade.low_resolution(image, rng.uniform(1.5, 3.5), rng)
        if self._chance('noise'):
            image = degrade.sensor_noise(image, rng, rng.uniform(2, 12))
        if self._chance('jpeg'):
            image = degrade.jpeg(image, int(rng.integers(10, 61)))
        return image

    def render(self, text: str) -> np.ndarray:
        """An RGB ``uint8`` scene-text crop of ``text``."""
        rng = self.rng
        size = int(rng.integers(24, 57))
        font = self._font(self.fonts[int(rng.integers(len(self.fonts)))], size)
        curve = self._chance('curve')
        tilted = self._chance('perspective')
        word, glyphs = self._masks(text, font, size, tilted)
        if self._chance('stroke'):
            radius = int(rng.choice([-1, 1, 2] if size >= 36 else [1, 2]))
            word, glyphs = fx.stroke_width(word, radius), fx.stroke_width(glyphs, radius)
        background = scene_background(rng, word.shape[::-1], self.backgrounds)
        under = background[word > 0.5].mean(0) if (word > 0.5).any() else background.mean((0, 1))
        layer = self._text_layer(glyphs, contrasting_colour(rng, under), under, size)
        layer, word = warp(layer, word, rng, amplitude=rng.uniform(0.05, 0.2) * size * curve,
                           angle=rng.uniform(-10, 10) * tilted, tilt=rng.uniform(0, 0.3) * tilted)
        x0, y0, x1, y1 = crop_box(word, rng, self._chance('loose'))
        rgb, alpha = layer[0][y0:y1, x0:x1], layer[1][y0:y1, x0:x1, None]
        image = self._degrade(background[y0:y1, x0:x1] * (1 - alpha) + rgb)
        if self.gray:
            image = np.repeat((image @ LUMA)[..., None], 3, axis=2)
        return np.clip(image + 0.5, 0, 255).astype(np.uint8)
