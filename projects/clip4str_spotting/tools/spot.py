"""Find and read all the text in images: an MMOCR detector + a recognizer.

    python projects/clip4str_spotting/tools/spot.py IMAGES_OR_DIR \\
        --det DET_CFG --det-weights DET.pth \\
        --rec configs/clip4str/clip4str-b16.py --rec-weights REC.pth --out-dir spots \\
        [--vis [--attention]]
    python projects/clip4str_spotting/tools/spot.py IMAGES_OR_DIR --det DET_CFG \\
        --det-weights DET.pth --rec configs/clip4str/clip4str-b16.py --rec-weights EXPORT_DIR \\
        --backend onnxruntime      # the recognizer exported by tools/export_onnx.py

Writes ``<out-dir>/<image path>.json`` (polygons, det_scores, texts, rec_scores) per image and,
with ``--vis``, ``<out-dir>/vis/<image path>.jpg``, where ``<image path>`` is the image's path,
extension included, relative to the deepest folder holding all inputs (``good.jpg``, ``good.png``
and ``sub/good.jpg`` give ``good.jpg.json``, ``good.png.json``, ``sub/good.jpg.json``). With
``--vis --attention``, ``<out-dir>/vis/<image path>.attention/word<k>.png`` too: the k-th word's
crop under the recognizer's attention, a panel per character (as tools/visualize_attention.py
draws it; the crops are recognised a second time, with the maps recorded). Existing
outputs are replaced only with ``--overwrite``. Crops are rectified (minimum-area rectangle +
perspective warp) unless ``--axis-aligned``; degenerate polygons are skipped. A file that cannot
be read is reported by name and the others are still processed (exit status 1 if any failed).
"""
import argparse
import json
import os
import os.path as osp
import sys

import cv2
from mmengine.config import Config
from mmengine.utils import ProgressBar

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '../../..')))  # projects.*
import clip4str_mmcv_lite  # noqa: E402,F401  (mmcv-lite: the mmcv._ext stand-in, first)
from clip4str_plugin.deploy import DeployError  # noqa: E402
from clip4str_plugin.deploy.recognizer import deployed_model_cfg  # noqa: E402
from clip4str_plugin.deploy.sessions import BACKENDS  # noqa: E402
from clip4str_plugin.weights.safe_loading import use_weights_only_loader  # noqa: E402
from clip4str_plugin.visualization.attention_maps import (patch_grid,  # noqa: E402
                                                          predict_with_attention)
from clip4str_plugin.visualization import draw_attention_grid  # noqa: E402
from projects.clip4str_spotting.clip4str_spotting import (TextSpotter, crop_text,  # noqa: E402
                                                          draw, read_image)
from projects.clip4str_spotting.clip4str_spotting.paths import (  # noqa: E402
    collect_images, output_names, refuse_existing)


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
    parser.add_argument('--attention', action='store_true',
                        help="with --vis: each word's attention grid (recognises the crops again)")
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    parser.add_argument('--backend', choices=['pytorch', *BACKENDS], default='pytorch',
                        help="the recognizer's runtime; onnxruntime / openvino: --rec-weights is "
                        'a folder written by tools/export_onnx.py (the detector stays PyTorch)')
    return parser.parse_args()


def draw_word_attention(spotter: TextSpotter, image, result: dict, folder: str) -> None:
    """``<folder>/word<k>.png``: the attention grid of every word of ``result``, read again from
    its crop (cut as the spotter cut it) with the maps recorded."""
    recognizer = spotter.recognizer
    crops = [crop_text(image, polygon, spotter.rectify, spotter.crop_pad)
             for polygon in result['polygons']]
    if not crops:
        return
    os.makedirs(folder, exist_ok=True)
    batch = recognizer.collate_fn([recognizer.pipeline(crop) for crop in crops])
    _, maps = predict_with_attention(recognizer.model, batch)
    for k, (inputs, word_maps) in enumerate(zip(batch['inputs'], maps)):
        shown = inputs.permute(1, 2, 0).numpy()[..., ::-1]      # BGR -> RGB
        draw_attention_grid(shown, word_maps).savefig(osp.join(folder, f'word{k}.png'))


def main():
    args = parse_args()
    if args.attention and not args.vis:
        sys.exit('--attention draws into the visualisations: give --vis too')
    use_weights_only_loader()
    files = collect_images(args.inputs, exclude=args.out_dir)
    if not files:
        sys.exit('no images given')
    names = output_names(files)
    outputs = [osp.join(args.out_dir, name + '.json') for name in names]
    visuals = [osp.join(args.out_dir, 'vis', name + '.jpg') for name in names] if args.vis \
        else []
    attention = [osp.splitext(v)[0] + '.attention' for v in visuals] if args.attention else []
    if not args.overwrite:
        refuse_existing(outputs + visuals + attention, f'outputs in {args.out_dir}')
    rec, rec_weights = args.rec, args.rec_weights
    if args.backend != 'pytorch':   # the config's pipeline, the exported model
        if args.attention or not rec_weights:
            sys.exit(f'--backend {args.backend} runs the export given as --rec-weights EXPORT_DIR'
                     + (' and records no attention: drop --attention' if args.attention else ''))
        rec, rec_weights = Config.fromfile(rec), None
        rec.model = deployed_model_cfg(rec.model, args.rec_weights, args.backend)
    try:
        spotter = TextSpotter(args.det, rec, args.det_weights, rec_weights, args.device,
                              rectify=not args.axis_aligned, rec_batch_size=args.rec_batch_size,
                              det_score_thr=args.det_score_thr, crop_pad=args.crop_pad)
    except DeployError as err:
        sys.exit(f'error: {err}')
    if args.attention:
        try:
            patch_grid(spotter.recognizer.model)
        except ValueError as err:
            sys.exit(f'--attention: {err}')
    failed, written = [], 0
    progress = ProgressBar(len(files))
    for index, path in enumerate(files):
        progress.update()
        try:
            image = read_image(path)
            result = spotter(image)
        except (ValueError, OSError) as err:
            failed.append(f'{path}: {err}')
            continue
        os.makedirs(osp.dirname(outputs[index]), exist_ok=True)
        with open(outputs[index], 'w') as f:
            json.dump(dict(image=path, **result), f)
        written += 1
        if args.vis:
            os.makedirs(osp.dirname(visuals[index]), exist_ok=True)
            cv2.imwrite(visuals[index], draw(image, result))
        if args.attention:
            draw_word_attention(spotter, image, result, attention[index])
    print(f'\nspotted {written} of {len(files)} images -> {written} JSON files in '
          f'{args.out_dir}')
    for line in failed:
        print(f'error: {line}', file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
