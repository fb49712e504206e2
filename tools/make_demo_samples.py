"""Render the demo's sample images (assets/samples): word crops of the test split in the broad
main job's style (clip4str_plugin.synth.word_renderer) and one scene of several words
(projects/clip4str_spotting's scene renderer), as PNGs named ``word<k>_<label>.png`` and
``scene0.png``. Deterministic for a seed; existing files are replaced only with ``--overwrite``.

    python tools/make_demo_samples.py assets/samples --words 5 --seed 0
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))   # projects.*
import clip4str_mmcv_lite  # noqa: E402,F401  (mmcv-lite: the mmcv._ext stand-in, first)
from clip4str_plugin.synth.word_presets import preset_options  # noqa: E402
from clip4str_plugin.synth.word_renderer import render_samples  # noqa: E402
from projects.clip4str_spotting.clip4str_spotting import render_scenes  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='folder for the PNGs')
    parser.add_argument('--words', type=int, default=5, help='word crops to render')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true', help='replace existing PNGs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    options = preset_options('broad')
    samples = render_samples('test', args.words, args.seed, **options)
    images = {}
    for k, (data, label) in enumerate(samples):
        name = ''.join(c if c.isalnum() else '-' for c in label)
        images[f'word{k}_{name}.png'] = cv2.imdecode(np.frombuffer(data, np.uint8),
                                                     cv2.IMREAD_COLOR)
    scene, _ = next(render_scenes('test', 1, args.seed, size=(320, 320), max_words=3,
                                  fonts='sans', max_len=8, random_fraction=0))
    images['scene0.png'] = cv2.cvtColor(scene, cv2.COLOR_RGB2BGR)
    existing = [n for n in images if osp.exists(osp.join(args.out, n))]
    if existing and not args.overwrite:
        raise SystemExit(f'error: {len(existing)} of the {len(images)} PNGs already exist in '
                         f'{args.out} (e.g. {existing[0]}); pass --overwrite to replace them')
    os.makedirs(args.out, exist_ok=True)
    for name, image in images.items():
        cv2.imwrite(osp.join(args.out, name), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'{len(images)} PNGs written to {args.out}: {", ".join(images)}')


if __name__ == '__main__':
    main()
