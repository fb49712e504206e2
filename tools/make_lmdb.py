"""Build a recognition LMDB from an image folder and a label file.

    python tools/make_lmdb.py IMAGE_DIR LABELS.txt OUT_LMDB

``LABELS.txt``: one ``<relative image path><TAB or space><label>`` per line (the label may contain
spaces when a tab separates it). Missing or unreadable images and empty labels are skipped and
counted; the summary names the first few.
"""
import argparse
import os

import cv2
import numpy as np
from mmengine.utils import ProgressBar

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.datasets.lmdb_io import LMDBWriter


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image_dir')
    parser.add_argument('labels')
    parser.add_argument('out')
    return parser.parse_args()


def parse_line(line: str):
    line = line.rstrip('\r\n')
    if not line.strip():
        return None
    path, sep, label = line.partition('\t')
    if not sep:
        path, _, label = line.partition(' ')
    return path, label


def main():
    args = parse_args()
    if not os.path.isdir(args.image_dir):
        raise SystemExit(f'image folder not found: {args.image_dir}')
    if not os.path.isfile(args.labels):
        raise SystemExit(f'label file not found: {args.labels}')
    with open(args.labels, encoding='utf-8') as f:
        entries = [e for e in map(parse_line, f) if e is not None]
    skipped = {'missing image': [], 'unreadable image': [], 'empty label': []}
    progress = ProgressBar(len(entries))
    with LMDBWriter(args.out) as writer:
        for path, label in entries:
            progress.update()
            full = os.path.join(args.image_dir, path)
            if not label:
                skipped['empty label'].append(path)
                continue
            if not os.path.isfile(full):
                skipped['missing image'].append(path)
                continue
            with open(full, 'rb') as f:
                raw = f.read()
            if cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR) is None:
                skipped['unreadable image'].append(path)
                continue
            writer.add(raw, label)
    print(f'\nwrote {writer.count} samples to {args.out}')
    for reason, paths in skipped.items():
        if paths:
            print(f'skipped {len(paths)} ({reason}): {", ".join(paths[:5])}'
                  + (' ...' if len(paths) > 5 else ''))


if __name__ == '__main__':
    main()
