"""The scene rendering preset: deterministic scene-text crops with the broad preset's labels,
each effect doing what it says (font effects, geometry, degradations, textures), and
make_synth_lmdb.py --preset scene."""
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from clip4str_plugin.synth import font_effects as fx
from clip4str_plugin.synth import scene_degrade as degrade
from clip4str_plugin.synth.fonts import select_fonts
from clip4str_plugin.datasets.lmdb_io import iter_labels
from clip4str_plugin.synth.photo_patches import (LUMA, PALETTE_SIZE, contrasting_colour,
                                                    natural_palette)
from clip4str_plugin.synth.scene_geometry import crop_box, mask_box, warp
from clip4str_plugin.synth.scene_renderer import EFFECTS, SceneRenderer
from clip4str_plugin.synth.textures import BACKGROUNDS, fractal_noise, scene_background
from clip4str_plugin.synth.word_presets import preset_options
from clip4str_plugin.synth.word_renderer import render_samples
from conftest import run_tool

SANS = select_fonts('sans')


def word_mask(text='Hello', size=40, margin=(60, 70)):
    """(H, W) float32 mask of ``text`` in the middle of a canvas with margins."""
    font = ImageFont.truetype(SANS[0], size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new('L', (right - left + 2 * margin[0], bottom - top + 2 * margin[1]))
    ImageDraw.Draw(image).text((margin[0] - left, margin[1] - top), text, font=font, fill=255)
    return np.asarray(image, np.float32) / 255


def test_scene_preset_is_deterministic_and_keeps_the_broad_labels():
    first = render_samples('test', 4, 3, **preset_options('scene'))
    assert render_samples('test', 4, 3, **preset_options('scene')) == first
    assert render_samples('test', 4, 4, **preset_options('scene')) != first
    broad = render_samples('test', 4, 3, **preset_options('broad'))
    assert [label for _, label in first] == [label for _, label in broad]
    assert [image for image, _ in first] != [image for image, _ in broad]
    image = np.asarray(Image.open(io.BytesIO(first[0][0])))
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@pytest.mark.parametrize('gray', [False, True])
def test_every_effect_at_once_gives_uint8_crops(gray):
    renderer = SceneRenderer(seed=1, fonts=SANS, distort=1.0, gray=gray)
    for text in ('Hi', 'PARKING', 'x7'):
        image = renderer.render(text)
        assert image.dtype == np.uint8 and image.shape[2] == 3 and 8 <= image.shape[0] <= 200
        assert image.shape[1] >= image.shape[0] / 3
        if gray:
            assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    again = SceneRenderer(seed=1, fonts=SANS, distort=1.0, gray=gray)
    assert np.array_equal(again.render('Hi'), SceneRenderer(seed=1, fonts=SANS, distort=1.0,
                                                           gray=gray).render('Hi'))


def test_each_effect_alone_changes_the_plain_rendering():
    plain = SceneRenderer(seed=5, fonts=SANS, distort=0.0).render('Market')
    for effect in EFFECTS:
        image = SceneRenderer(seed=5, fonts=SANS, distort=0.0, effects={effect: 1.0}).render(
            'Market')
        assert image.shape != plain.shape or not np.array_equal(image, plain), effect


def test_unknown_effect_or_background():
    with pytest.raises(ValueError, match='unknown scene effects or backgrounds: glow, marble'):
        SceneRenderer(effects={'glow': 1.0}, backgrounds=('marble', ))


def test_outline_adds_its_colour_around_the_glyphs():
    mask = word_mask()
    red, blue = np.float32([255, 0, 0]), np.float32([0, 0, 255])
    layer = fx.over(fx.empty_layer(*mask.shape), red, fx.outline(mask, 2))
    rgb, alpha = fx.over(layer, blue, mask)
    ring = (fx.outline(mask, 2) == 1) & (mask == 0)
    assert ring.sum() > 0.3 * (mask > 0.5).sum()
    assert np.allclose(rgb[ring], red) and np.allclose(rgb[mask == 1], blue)
    assert (alpha[ring] == 1).all() and (alpha[fx.outline(mask, 2) == 0] == 0).all()


def test_shadow_extrusion_and_stroke_width():
    mask = word_mask()
    shadow = fx.drop_shadow(mask, 3, 2, blur=0, strength=0.5)
    assert np.allclose(shadow, 0.5 * fx.shift(mask, 3, 2))
    ys, xs = np.nonzero(fx.drop_shadow(mask, 3, 2, blur=1.5, strength=1.0) > 0.5)
    mys, mxs = np.nonzero(mask > 0.5)
    assert abs(xs.mean() - mxs.mean() - 3) < 0.5 and abs(ys.mean() - mys.mean() - 2) < 0.5
    deep = fx.extrusion(mask, 1, 1, 4)
    assert (deep >= fx.shift(mask, 4, 4)).all() and (deep >= fx.shift(mask, 1, 1)).all()
    assert deep.sum() > 1.3 * mask.sum()
    assert fx.stroke_width(mask, 2).sum() > mask.sum() > fx.stroke_width(mask, -1).sum()
    assert fx.stroke_width(mask, 0) is mask


def test_bevel_lights_one_side_and_darkens_the_other():
    mask = np.zeros((60, 60), np.float32)
    mask[20:40, 20:40] = 1
    grey = np.float32([128, 128, 128])
    lit = fx.bevel(mask, grey, width=2, angle=0.0, strength=0.5)      # light from the right
    assert lit[30, 21, 0] < 128 < lit[30, 38, 0]
    assert lit[30, 30, 0] == pytest.approx(128, abs=1)


def test_perspective_keeps_the_word_inside_a_loose_crop():
    mask = word_mask('Scene', margin=(40, 60))
    rng = np.random.default_rng(0)
    layer = (np.dstack([mask] * 3) * 200, mask)
    for _ in range(5):
        (rgb, alpha), warped = warp(layer, mask, rng, amplitude=6, angle=rng.uniform(-10, 10),
                                    tilt=0.3)
        assert not np.array_equal(warped, mask)
        assert warped.sum() == pytest.approx(mask.sum(), rel=0.35)
        assert warped[0].max() == warped[-1].max() == warped[:, 0].max() == 0
        x0, y0, x1, y1 = crop_box(warped, rng, loose=True)
        inside = warped[y0:y1, x0:x1]
        assert inside.sum() == pytest.approx(warped.sum(), rel=0.01)
        bx0, by0, bx1, by1 = mask_box(warped)
        assert x0 < bx0 and bx1 < x1 and y0 < by0 and by1 < y1      # a margin on every side
    tight = crop_box(mask, rng, loose=False)
    box = mask_box(mask)
    assert all(abs(a - b) <= 0.08 * (box[3] - box[1]) + 1 for a, b in zip(tight, box))


def test_degradations():
    rng = np.random.default_rng(0)
    image = np.zeros((40, 120, 3), np.float32)
    image[:, ::4] = 255                                                  # sharp stripes
    for blurred in (degrade.gaussian_blur(image, 1.5), degrade.motion_blur(image, 5, 0.0),
                    degrade.low_resolution(image, 3.0, rng)):
        assert blurred.shape == image.shape
        assert np.abs(np.diff(blurred, axis=1)).mean() < 0.7 * np.abs(np.diff(image, axis=1)).mean()
    grey = np.full((40, 120, 3), 128, np.float32)
    assert degrade.sensor_noise(grey, rng, 8.0).std() == pytest.approx(8.0, rel=0.2)
    lit = degrade.uneven_light(grey, rng, 0.5)
    assert lit.std() > 5 and lit.shape == grey.shape
    photo = scene_background(np.random.default_rng(1), (120, 40), ('photo', ))
    rough, fine = degrade.jpeg(photo, 10), degrade.jpeg(photo, 95)
    assert rough.dtype == np.float32 and rough.shape == photo.shape
    assert np.abs(rough - photo).mean() > 2 * np.abs(fine - photo).mean() > 0


def test_backgrounds_and_natural_colours():
    rng = np.random.default_rng(0)
    for kind in BACKGROUNDS:
        texture = scene_background(rng, (90, 30), (kind, ))
        assert texture.shape == (30, 90, 3) and texture.dtype == np.float32, kind
        assert 0 <= texture.min() and texture.max() <= 255 and texture.std() > 0.5, kind
    noise = fractal_noise(rng, 30, 90)
    assert noise.min() == 0 and noise.max() == pytest.approx(1)
    palette = natural_palette()
    assert palette.shape == (PALETTE_SIZE, 3) and (np.diff(palette @ LUMA) >= 0).all()
    for under in palette:
        colour = contrasting_colour(rng, under)
        assert abs(float((colour - under) @ LUMA)) > 55


def test_make_synth_lmdb_scene_preset(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'scene'
    assert run_tool('make_synth_lmdb.py', out, '--split', 'val', '--num', '3', '--workers', '1',
                    '--preset', 'scene', monkeypatch=monkeypatch) == ''
    assert 'preset scene: 18 font faces' in capsys.readouterr().out
    assert [label for _, label in iter_labels(str(out))] == [
        label for _, label in render_samples('val', 3, 0, **preset_options('scene'))]
