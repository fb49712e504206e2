"""Read the words in image crops with a checkpoint: files and folders in, one JSON and one CSV out.

    python tools/infer.py b16.pth crops/ more/word.png
    python tools/infer.py work_dirs/x/iter_1000.pth crops/ \
        --config configs/clip4str/clip4str-tiny.py
    python tools/infer.py crops/ --rec CONFIG --rec-weights CKPT --print-result --save-vis

The model comes from ``--config`` or the checkpoint's own config (``meta['cfg']``, which the
converter and the MMEngine Runner write), read as data and never run (:mod:`clip4str_plugin.
config_text`), through MMOCR's ``TextRecInferencer``. The checkpoint loads weights-only.
Folders are searched recursively for image files (by extension); files named on the command line
are read whatever their extension. Images are decoded by OpenCV and run ``--batch-size`` at a
time under an MMEngine progress bar; a file that does not decode, or whose header claims more
than 40 megapixels (``CLIP4STR_MAX_IMAGE_PIXELS``), is named and skipped, and the skips are
counted. Every run writes
``<out-dir>/<timestamp>/predictions.json`` and ``predictions.csv`` (path, text, mean character
score) into a folder of its own, so no run overwrites another; ``--save-vis`` adds each crop with
its text drawn (``vis/``), ``--save-pred`` (``--save_pred``) each crop's prediction as MMOCR's
inferencer writes it (``preds/``); MMOCR's ``--show`` (a window) is refused in one line. Crops
are normalised as ``--norm`` says (default: as the checkpoint records,
:mod:`clip4str_plugin.cli.norm_option`).
"""
import argparse
import csv
import json
import math
import os
import os.path as osp
import pickle
import sys
import time
import warnings
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.utils import ProgressBar

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
import clip4str_plugin  # noqa: F401  (registers the plugin for the checkpoint's config)
from clip4str_plugin.datasets.image_io import ImageReadError, list_image_files, read_image_file
from clip4str_plugin.cli.checks import (check_config, check_device, check_output_dir,
                                               check_positive, fail)
from clip4str_plugin.cli.norm_option import add_norm_arg, apply_norm
from clip4str_plugin.config_text import config_in_checkpoint
from clip4str_plugin.weights.loading import load_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('inputs', nargs='+', metavar='[CHECKPOINT] INPUT',
                        help='the converted or trained checkpoint (.pth/.safetensors; unless '
                        '--rec-weights names it), then image files and folders of word crops')
    parser.add_argument('--config', '--rec', dest='config', help='build the model from this '
                        "config instead of the checkpoint's own (--rec: MMOCR's name)")
    parser.add_argument('--rec-weights', '--rec_weights', dest='rec_weights',
                        help="the checkpoint, MMOCR's way (then every positional is an input)")
    parser.add_argument('--out-dir', default='work_dirs/infer',
                        help='each run writes into a new <timestamp> folder under it')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    parser.add_argument('--print-result', '--print_result', action='store_true',
                        help='also print each prediction (path, text, score) as a JSON line')
    parser.add_argument('--save-vis', '--save_vis', action='store_true',
                        help='also write each crop with its text drawn into <run folder>/vis/')
    parser.add_argument('--save-pred', '--save_pred', action='store_true',
                        help="also write each crop's prediction as MMOCR does, {text, scores}, "
                        'into <run folder>/preds/<input number>_<name>.json')
    parser.add_argument('--show', action='store_true', help=argparse.SUPPRESS)  # refused below
    add_norm_arg(parser)
    args = parser.parse_args(argv)
    if args.show:
        fail('--show (a window per crop) is not offered: --save-vis writes each crop with its '
             'text drawn into the run folder, and tools/demo.py shows them in a browser')
    if args.rec_weights is None:
        if len(args.inputs) < 2:
            fail('give the checkpoint, then the images (or --rec-weights CHECKPOINT)')
        args.rec_weights, *args.inputs = args.inputs
    args.checkpoint = args.rec_weights
    return args


def collect_images(inputs: List[str]) -> List[str]:
    """The files named, then every image file under the folders named (sorted; regular files
    only: a FIFO would block), each once."""
    paths, seen = [], set()
    for item in inputs:
        if osp.isdir(item):
            found = list_image_files(item, IMAGE_EXTENSIONS)
        elif osp.isfile(item):
            found = [item]
        else:
            raise SystemExit(f'error: input not found: {item}')
        for path in found:
            if osp.realpath(path) not in seen:
                seen.add(osp.realpath(path))
                paths.append(path)
    return paths


def read_image(path: str) -> Tuple[Optional[np.ndarray], str]:
    """``(BGR image, '')``, or ``(None, why)`` for a file that cannot be read or decoded, is
    not a regular file, or whose header claims more pixels than the limit
    (``CLIP4STR_MAX_IMAGE_PIXELS``, :mod:`clip4str_plugin.datasets.image_io`)."""
    try:
        return read_image_file(path), ''
    except ImageReadError as err:
        return None, str(err)


def batches(paths: List[str], size: int) -> Iterator[List[str]]:
    for start in range(0, len(paths), size):
        yield paths[start:start + size]


def new_run_dir(out_dir: str) -> str:
    """A folder that did not exist before, named by the time (``_1``, ``_2`` ... on a clash)."""
    base = osp.join(out_dir, time.strftime('%Y%m%d_%H%M%S'))
    for suffix in ('', *(f'_{n}' for n in range(1, 1000))):
        try:
            os.makedirs(base + suffix)
            return base + suffix
        except FileExistsError:
            continue
    raise SystemExit(f'error: cannot create a new run folder under {out_dir}')


def build_inferencer(args):
    """MMOCR's TextRecInferencer on the checkpoint and --config, or the checkpoint's own config
    read as data (never run); errors as one line."""
    from mmocr.apis import TextRecInferencer
    use_weights_only_loader()
    device = check_device(args.device)
    if args.config is not None:
        check_config(args.config, '--config')
    try:
        checkpoint = load_checkpoint_file(args.checkpoint, mmap=True)
        model = Config.fromfile(args.config) if args.config else config_in_checkpoint(
            checkpoint, args.checkpoint)
        apply_norm(model.model, args.norm, checkpoint, args.checkpoint)
        del checkpoint
        inferencer = TextRecInferencer(model=model, weights=args.checkpoint, device=device)
    except (OSError, ValueError, pickle.UnpicklingError) as err:
        raise SystemExit(f'error: {err}')
    inferencer.show_progress = False
    return inferencer


def predict(inferencer, paths: List[str], batch_size: int, vis_dir: Optional[str] = None,
            pred_dir: Optional[str] = None):
    """Rows ``{path, text, score}`` and skips ``{path, reason}``, in input order; with
    ``vis_dir``, each crop with its text drawn (MMOCR's visualizer) is written there as
    ``<input number>_<file name>.png``; with ``pred_dir``, its prediction as MMOCR's
    ``save_pred`` writes it (``{text, scores}``, a NaN score as null) as ``....json``."""
    rows, skipped = [], []
    progress = ProgressBar(len(paths), file=sys.stderr)
    for first, chunk in zip(range(0, len(paths), batch_size), batches(paths, batch_size)):
        images, kept = [], []
        for number, path in enumerate(chunk, first):
            image, why = read_image(path)
            if image is None:
                skipped.append(dict(path=path, reason=why))
                print(f'\nskipped {path}: {why}', file=sys.stderr)
            else:
                images.append(image)
                kept.append((number, path))
        if images:
            with warnings.catch_warnings():   # the mean score of an empty word is NaN
                warnings.simplefilter('ignore', RuntimeWarning)
                result = inferencer(images, batch_size=len(images), return_vis=bool(vis_dir))
            preds = result['predictions']
            for (number, path), pred, drawn in zip(kept, preds, result['visualization'] or preds):
                name = f'{number:05d}_{osp.splitext(osp.basename(path))[0]}'
                if vis_dir:   # the visualizer draws RGB
                    cv2.imwrite(osp.join(vis_dir, name + '.png'), drawn[..., ::-1])
                score = pred['scores'] if math.isfinite(pred['scores']) else None
                if pred_dir:
                    with open(osp.join(pred_dir, name + '.json'), 'w', encoding='utf-8') as f:
                        json.dump(dict(text=pred['text'], scores=score), f, ensure_ascii=False)
                rows.append(dict(path=path, text=pred['text'],
                                 score=None if score is None else round(score, 6)))
        for _ in chunk:
            progress.update()
    return rows, skipped


def write_outputs(run_dir: str, rows, skipped, args) -> Tuple[str, str]:
    json_path = osp.join(run_dir, 'predictions.json')
    csv_path = osp.join(run_dir, 'predictions.csv')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(dict(checkpoint=args.checkpoint, config=args.config, predictions=rows,
                       skipped=skipped), f, ensure_ascii=False, indent=1)
    with open(csv_path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['path', 'text', 'score'])
        writer.writeheader()
        writer.writerows(rows)
    return json_path, csv_path


def main(argv=None):
    args = parse_args(argv)
    check_positive('--batch-size', args.batch_size)
    check_output_dir(args.out_dir, '--out-dir')
    paths = collect_images(args.inputs)
    if not paths:
        raise SystemExit(f'error: no image files ({", ".join(IMAGE_EXTENSIONS)}) in '
                         f'{" ".join(args.inputs)}')
    inferencer = build_inferencer(args)
    run_dir = new_run_dir(args.out_dir)
    vis_dir = osp.join(run_dir, 'vis') if args.save_vis else None
    pred_dir = osp.join(run_dir, 'preds') if args.save_pred else None
    for folder in filter(None, (vis_dir, pred_dir)):
        os.makedirs(folder)
    rows, skipped = predict(inferencer, paths, args.batch_size, vis_dir, pred_dir)
    json_path, csv_path = write_outputs(run_dir, rows, skipped, args)
    if args.print_result:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    print(f'\n{len(rows)} images read, {len(skipped)} skipped (unreadable); '
          f'wrote {json_path} and {csv_path}')


if __name__ == '__main__':
    main()
