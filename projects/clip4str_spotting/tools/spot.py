"""Find and read all the text in images: an MMOCR detector + a recognizer.

    python projects/clip4str_spotting/tools/spot.py IMAGES_OR_DIR \\
        --det DET_CFG --det-weights DET.pth \\
        --rec configs/clip4str/clip4str_b16.py --rec-weights REC.pth --out-dir spots [--vis]

Writes ``<out-dir>/<image name>.json`` (polygons, det_scores, texts, rec_scores) per image and,
with ``--vis``, ``<out-dir>/vis/<image name>.jpg``. Crops are rectified (minimum-area rectangle +
perspective warp) unless ``--axis-aligned``; degenerate polygons are skipped. A file that cannot
be read is reported by name and the others are still processed (exit status 1 if any failed).
"""
import argparse
import json
import os
import os.path as osp
import sys

import cv2
from mmengine.utils import ProgressBar

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '../../..')))  # projects.*
import clip4str_mmcv_lite  # noqa: E402,F401  (mmcv-lite: the mmcv._ext stand-in, first)
from clip4str_plugin.weights.mmengine_loader import use_weights_only_loader  # noqa: E402
from projects.clip4str_spotting.clip4str_spotting import (TextSpotter, draw,  # noqa: E402
                                                          read_image)

EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('inputs', nargs='+', help='image files and / or folders')
    parser.add_argument('--det', required=True)
    parser.add_argument('--det-weights')
    parser.add_argument('--rec', required=True)
    parser.add_argument('--rec-weights')
    parser.add_argument('--out-dir', default='spots')
    parser.add_argument('--device', default=None)
    parser.add_argument('--axis-aligned', action='store_true',
                        help="MMOCR's padded bounding-box crops instead of rectified ones")
    parser.add_argument('--rec-batch-size', type=int, default=32)
    parser.add_argument('--crop-pad', type=float, default=0.2,
                        help='margin added around rectified crops, as a fraction of their height')
    parser.add_argument('--det-score-thr', type=float, default=0.0)
    parser.add_argument('--vis', action='store_true', help='also save visualisations')
    return parser.parse_args()


def collect(inputs):
    files = []
    for item in inputs:
        if osp.isdir(item):
            files += sorted(osp.join(d, f) for d, _, names in os.walk(item) for f in names
                            if f.lower().endswith(EXTENSIONS))
        else:
            files.append(item)
    return files


def main():
    args = parse_args()
    use_weights_only_loader()
    files = collect(args.inputs)
    if not files:
        sys.exit('no images given')
    spotter = TextSpotter(args.det, args.rec, args.det_weights, args.rec_weights, args.device,
                          rectify=not args.axis_aligned, rec_batch_size=args.rec_batch_size,
                          det_score_thr=args.det_score_thr, crop_pad=args.crop_pad)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.vis:
        os.makedirs(osp.join(args.out_dir, 'vis'), exist_ok=True)
    failed = []
    progress = ProgressBar(len(files))
    for path in files:
        progress.update()
        try:
            image = read_image(path)
        except (ValueError, OSError) as err:
            failed.append(f'{path}: {err}')
            continue
        result = spotter(image)
        stem = osp.splitext(osp.basename(path))[0]
        with open(osp.join(args.out_dir, stem + '.json'), 'w') as f:
            json.dump(dict(image=path, **result), f)
        if args.vis:
            cv2.imwrite(osp.join(args.out_dir, 'vis', stem + '.jpg'), draw(image, result))
    print(f'\nspotted {len(files) - len(failed)} of {len(files)} images -> {args.out_dir}')
    for line in failed:
        print(f'error: {line}', file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
