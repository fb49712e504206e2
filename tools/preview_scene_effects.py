"""Draw a grid of scene-preset samples, one row per background kind and per effect (alone), then
rows of the full ``scene`` preset: the picture of docs/synthetic_data.md.

    python tools/preview_scene_effects.py docs/images/scene_preset.png --overwrite

Rows show each effect of clip4str_plugin.synth.scene_renderer alone (probability 1, the others
0; ``neighbours`` with a loose crop, or they would be cut away), the background kinds, and the
``scene`` preset as rendered into LMDBs. Words are training words of the preset. The PNG is
quantised to 256 colours to stay small; an existing one is replaced only with ``--overwrite``.
"""
import argparse

import numpy as np
from PIL import Image, ImageDraw

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.synth.scene_renderer import EFFECTS, SceneRenderer
from clip4str_plugin.synth.textures import BACKGROUNDS
from clip4str_plugin.synth.word_presets import PRESETS, preset_options
from clip4str_plugin.synth.words import WordSampler
from clip4str_plugin.cli.checks import check_output_file, check_positive
from clip4str_plugin.fileio import atomic_path, refuse_existing_output

TILE_H, ROW_W, LABEL_W, GAP = 40, 720, 92, 4


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='PNG file to write (folders are created)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing out')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--per-row', type=int, default=8, help='samples drawn per row (as '
                        'many as fit in the row are shown)')
    return parser.parse_args()


def rows():
    """(row title, SceneRenderer keyword arguments) of each row of the grid."""
    none = dict(distort=0.0)
    yield from ((f'bg {kind}', dict(none, backgrounds=(kind, ))) for kind in BACKGROUNDS)
    for effect in EFFECTS:
        chances = {effect: 1.0, 'loose': 1.0} if effect == 'neighbours' else {effect: 1.0}
        yield effect, dict(none, effects=chances)
    for _ in range(3):
        yield 'scene preset', dict(distort=PRESETS['scene']['distort'])


def tile_row(images, title: str) -> np.ndarray:
    """Images scaled to TILE_H high, side by side after a title, cut at ROW_W; uint8 RGB."""
    row = Image.new('RGB', (ROW_W, TILE_H), (255, 255, 255))
    ImageDraw.Draw(row).text((2, TILE_H // 2 - 6), title, fill=(0, 0, 0))
    x = LABEL_W
    for image in images:
        width = max(round(image.shape[1] * TILE_H / image.shape[0]), 1)
        if x >= ROW_W:
            break
        row.paste(Image.fromarray(image).resize((width, TILE_H), Image.BILINEAR), (x, 0))
        x += width + GAP
    return np.asarray(row)


def preview(out: str, seed: int = 0, per_row: int = 8) -> np.ndarray:
    """Render the grid (uint8 RGB) and write it to ``out`` as a 256-colour PNG."""
    options = preset_options('scene')
    words = WordSampler('train', seed, options['random_fraction'], options['max_len'],
                        options['random_charset'], options['min_len'])
    grid = []
    for index, (title, kwargs) in enumerate(rows()):
        renderer = SceneRenderer(seed=seed * 1000 + index, fonts=options['fonts'], **kwargs)
        grid.append(tile_row([renderer.render(words()) for _ in range(per_row)], title))
        grid.append(np.full((GAP, ROW_W, 3), 255, np.uint8))
    grid = np.concatenate(grid)
    with atomic_path(out) as temporary:
        Image.fromarray(grid).quantize(256).save(temporary, format='PNG', optimize=True)
    return grid


def main():
    args = parse_args()
    check_positive('--per-row', args.per_row)
    check_output_file(args.out, 'out')
    refuse_existing_output(args.out, args.overwrite)
    preview(args.out, args.seed, args.per_row)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
