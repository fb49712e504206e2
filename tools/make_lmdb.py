"""Build a recognition LMDB from an image folder and a label file.

    python tools/make_lmdb.py IMAGE_DIR LABELS.txt OUT_LMDB [--encoding latin-1] [--overwrite]

``LABELS.txt``: one ``<relative image path><TAB or space><label>`` per line (the label may contain
spaces when a tab separates it), UTF-8 by default (a byte-order mark is ignored). A line that does
not decode stops the tool, naming the file and line. Missing or unreadable images, images whose
header claims more than 40 megapixels (``CLIP4STR_MAX_IMAGE_PIXELS``) and empty or
whitespace-only labels are skipped and counted; the summary names the first few. An existing
LMDB in OUT_LMDB is replaced only with ``--overwrite``; an interrupted run leaves an LMDB that
does not load (it is marked incomplete).
"""
import argparse
import os

from mmengine.utils import ProgressBar

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.errors import DataError
from clip4str_plugin.datasets.image_io import (ImageReadError, ImageTooLargeError, decode_image,
                                               read_file)
from clip4str_plugin.datasets.label_files import read_lines
from clip4str_plugin.datasets.lmdb_io import tool_writer


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image_dir')
    parser.add_argument('labels')
    parser.add_argument('out')
    parser.add_argument('--encoding', default='utf-8',
                        help='of the label file (default utf-8; e.g. latin-1, cp1252, gbk)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an LMDB that OUT already holds')
    return parser.parse_args()


def parse_line(line: str):
    """``(path, label)``, or None for a blank line; the label is '' when the line has none."""
    if not line.strip():
        return None
    path, sep, label = line.partition('\t')
    if not sep:
        path, _, label = line.strip().partition(' ')
    return path.strip(), label


def main():
    args = parse_args()
    if not os.path.isdir(args.image_dir):
        raise SystemExit(f'image folder not found: {args.image_dir}')
    if not os.path.isfile(args.labels):
        raise SystemExit(f'label file not found: {args.labels}')
    try:
        lines = read_lines(args.labels, args.encoding)
    except DataError as err:
        raise SystemExit(str(err)) from None
    entries = [e for e in map(parse_line, lines) if e is not None]
    skipped = {'missing image': [], 'not a regular file': [], 'unreadable image': [],
               'image over the pixel limit': [], 'empty label': []}
    with tool_writer(args.out, args.overwrite) as writer:
        progress = ProgressBar(len(entries))
        for path, label in entries:
            progress.update()
            full = os.path.join(args.image_dir, path)
            if not label.strip():
                skipped['empty label'].append(path)
                continue
            if not os.path.isfile(full):      # (False for a FIFO or a device too)
                skipped['not a regular file' if os.path.exists(full) else 'missing image'
                        ].append(path)
                continue
            try:
                raw = read_file(full)
                decode_image(raw)
            except ImageTooLargeError:
                skipped['image over the pixel limit'].append(path)
                continue
            except ImageReadError:
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
