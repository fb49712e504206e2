"""Score a text detector + recognizer pair end to end on annotated scene images.

    python projects/clip4str_spotting/tools/test_spotting.py \\
        data/synth_scenes/textspotting_test.json \\
        --det DET_CFG --det-weights DET.pth --rec REC_CFG --rec-weights REC.pth

The annotation file is MMOCR's text-spotting / detection JSON (``data_list[i].instances``:
``polygon``, ``text``, ``ignore``; image paths relative to the file's folder or ``--data-root``).
Prints precision / recall / hmean of detection (IoU >= 0.5) and of end-to-end spotting (IoU >= 0.5
and the same text, case-insensitive letters and digits unless ``--exact``). An image that is
missing or unreadable, or whose annotation is unusable (e.g. a polygon of 3 values), is skipped,
named and counted; the rest are scored. ``--out`` is replaced only with ``--overwrite``.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.utils import ProgressBar

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '../../..')))  # projects.*
import clip4str_mmcv_lite  # noqa: E402,F401  (mmcv-lite: the mmcv._ext stand-in, first)
from clip4str_plugin.fileio import refuse_existing_output  # noqa: E402
from clip4str_plugin.weights.safe_loading import use_weights_only_loader  # noqa: E402
from projects.clip4str_spotting.clip4str_spotting import (E2EHmeanMetric,  # noqa: E402
                                                          TextSpotter, read_image)
from projects.clip4str_spotting.clip4str_spotting.annotations import (  # noqa: E402
    load_spotting_annotations)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file')
    parser.add_argument('--data-root', help='image root (default: the annotation folder)')
    parser.add_argument('--det', required=True)
    parser.add_argument('--det-weights')
    parser.add_argument('--rec', required=True)
    parser.add_argument('--rec-weights')
    parser.add_argument('--device')
    parser.add_argument('--axis-aligned', action='store_true')
    parser.add_argument('--crop-pad', type=float, default=0.2,
                        help='margin added around rectified crops, as a fraction of their height')
    parser.add_argument('--exact', action='store_true', help='texts must match exactly')
    parser.add_argument('--out', help='write the per-image predictions (JSON) here')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    return parser.parse_args()


def main():
    args = parse_args()
    use_weights_only_loader()
    if args.out:     # never the annotation file it reads
        refuse_existing_output(args.out, args.overwrite, [args.ann_file])
    try:
        entries, skipped = load_spotting_annotations(args.ann_file)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    root = args.data_root or osp.dirname(osp.abspath(args.ann_file))
    if not entries:
        raise SystemExit(f'{args.ann_file}: no usable entry ({len(skipped)} skipped'
                         + (f', e.g. {skipped[0]}' if skipped else '') + ')')
    spotter = TextSpotter(args.det, args.rec, args.det_weights, args.rec_weights, args.device,
                          rectify=not args.axis_aligned, crop_pad=args.crop_pad)
    mode = 'exact' if args.exact else 'alnum'
    metrics = dict(detection=E2EHmeanMetric(match_text=False),
                   end_to_end=E2EHmeanMetric(text_mode=mode))
    predictions = []
    total = len(entries) + len(skipped)
    progress = ProgressBar(len(entries))
    for entry in entries:
        progress.update()
        gt = dict(polygons=entry['polygons'], texts=entry['texts'], ignored=entry['ignored'])
        try:
            image = read_image(osp.join(root, entry['img_path']))
            result = spotter(image)
        except FileNotFoundError:
            skipped.append(f'{entry["img_path"]}: image not found in {root}')
            continue
        except (ValueError, OSError) as err:
            skipped.append(f'{entry["img_path"]}: {err}')
            continue
        sample = dict(pred_instances=dict(polygons=result['polygons'], texts=result['texts']),
                      gt_instances=gt)
        for metric in metrics.values():
            metric.process(None, [sample])
        predictions.append(dict(img_path=entry['img_path'], **result))
    print(f'\n{args.ann_file}: {len(predictions)} of {total} images evaluated, '
          f'{len(skipped)} skipped')
    for line in skipped:
        print(f'skipped: {line}')
    if not predictions:
        raise SystemExit('no image could be evaluated')
    print('| task | precision | recall | hmean |\n| --- | ---: | ---: | ---: |')
    scores = {}
    for name, metric in metrics.items():
        scores[name] = metric.compute_metrics(metric.results)
        s = scores[name]
        print(f"| {name} | {100 * s['precision']:.2f} | {100 * s['recall']:.2f} | "
              f"{100 * s['hmean']:.2f} |")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(scores=scores, predictions=predictions, skipped=skipped), f)


if __name__ == '__main__':
    main()
