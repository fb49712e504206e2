"""Render scene images with several words and their quadrilateral + text annotations.

    python projects/clip4str_spotting/tools/make_synth_scenes.py data/synth_scenes \\
        --split train --num 2000 --seed 0
    python projects/clip4str_spotting/tools/make_synth_scenes.py data/synth_scenes \\
        --split test --num 200 --seed 0

Writes ``<out>/<split>/NNNNNN.jpg`` and ``<out>/textspotting_<split>.json`` in MMOCR's format
(``instances``: ``polygon``, ``bbox``, ``bbox_label``, ``ignore``, ``text``), readable by
``OCRDataset`` for detector training (text detection) and end-to-end evaluation (spotting).
Test words never occur in the train split. Existing scenes of the split (its JSON or any
``NNNNNN.jpg``) are replaced only with ``--overwrite``, which first deletes them all.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys

import cv2
from mmengine.utils import ProgressBar

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '../../..')))  # projects.*
import clip4str_mmcv_lite  # noqa: E402,F401  (mmcv-lite: the mmcv._ext stand-in, first)
from clip4str_plugin.synth.words import SPLITS  # noqa: E402
from projects.clip4str_spotting.clip4str_spotting import CATEGORY, render_scenes  # noqa: E402
from projects.clip4str_spotting.clip4str_spotting.paths import refuse_existing  # noqa: E402

SCENE_NAME = re.compile(r'\d{6}\.jpg')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out')
    parser.add_argument('--split', choices=SPLITS, default='train')
    parser.add_argument('--num', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, nargs=2, default=(320, 320), metavar=('W', 'H'))
    parser.add_argument('--max-words', type=int, default=5)
    parser.add_argument('--fonts', choices=['all', 'upright', 'sans'], default='all')
    parser.add_argument('--gray', action='store_true', help='grey levels only')
    parser.add_argument('--max-len', type=int, default=12, help='longest word')
    parser.add_argument('--random-fraction', type=float, default=0.1,
                        help='share of random strings over the 94 characters')
    parser.add_argument('--overwrite', action='store_true',
                        help="replace the split's existing scenes")
    return parser.parse_args()


def existing_outputs(out: str, split: str) -> list:
    """The split's annotation file and scene images already in ``out``."""
    folder = osp.join(out, split)
    images = sorted(osp.join(folder, name) for name in os.listdir(folder)
                    if SCENE_NAME.fullmatch(name)) if osp.isdir(folder) else []
    ann = osp.join(out, f'textspotting_{split}.json')
    return ([ann] if osp.exists(ann) else []) + images


def main():
    args = parse_args()
    existing = existing_outputs(args.out, args.split)
    if existing and not args.overwrite:
        refuse_existing(existing, f'{args.split} outputs in {args.out}')
    for path in existing:
        os.remove(path)
    os.makedirs(osp.join(args.out, args.split), exist_ok=True)
    data_list = []
    progress = ProgressBar(args.num)
    scenes = render_scenes(args.split, args.num, args.seed, tuple(args.size), args.max_words,
                           args.fonts, args.gray, args.max_len, args.random_fraction)
    for index, (image, instances) in enumerate(scenes):
        name = osp.join(args.split, f'{index:06d}.jpg')
        cv2.imwrite(osp.join(args.out, name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        data_list.append(dict(img_path=name, height=image.shape[0], width=image.shape[1],
                              instances=instances))
        progress.update()
    ann = dict(metainfo=dict(dataset_type='TextSpottingDataset', task_name='textspotting',
                             category=CATEGORY), data_list=data_list)
    path = osp.join(args.out, f'textspotting_{args.split}.json')
    with open(path, 'w') as f:
        json.dump(ann, f)
    words = sum(len(d['instances']) for d in data_list)
    print(f'\nwrote {args.num} scenes with {words} words to {args.out} ({path})')


if __name__ == '__main__':
    main()
