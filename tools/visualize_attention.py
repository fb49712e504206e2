"""Draw where the decoders look: one PNG per word image, a panel per decoded character.

    python tools/visualize_attention.py word.png crops/ --config configs/clip4str/clip4str-b16.py \\
        --weights b16.pth --out-dir attention

Each ``<out-dir>/<image path>.png`` (the image's path relative to the deepest folder holding all
inputs, extension kept, ``.png`` added) shows the image the model read (after the test pipeline)
with, for every decoded character, the last decoder layer's cross-attention over the image
patches, averaged over heads: a row per branch (CLIP4STR: ``visual`` and ``cross``; the cross
branch's attention to the caption tokens is left out), from the pass whose logits give the text
(the last refinement pass; the autoregressive steps with ``refine_iters=0``). The model comes
from ``--config`` or the checkpoint's own config, read as data (never run); the checkpoint loads
weights-only. Unreadable files are named and skipped (counted); existing PNGs are replaced only
with ``--overwrite``.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.utils import ProgressBar

from infer import build_inferencer, collect_images, read_image  # tools/infer.py
from clip4str_plugin.cli.checks import check_output_dir
from clip4str_plugin.cli.norm_option import add_norm_arg
from clip4str_plugin.visualization.attention_maps import predict_with_attention, patch_grid
from clip4str_plugin.visualization import draw_attention_grid


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', help='word images and folders of them')
    parser.add_argument('--config', help="the model's config (default: the checkpoint's own)")
    parser.add_argument('--weights', required=True, help='trained or converted checkpoint')
    parser.add_argument('--out-dir', default='work_dirs/attention')
    parser.add_argument('--device', help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing PNGs')
    add_norm_arg(parser)
    return parser.parse_args(argv)


def output_paths(images, out_dir):
    """``<out_dir>/<path relative to the deepest common folder>.png`` per image (distinct)."""
    paths = [osp.abspath(p) for p in images]
    base = osp.commonpath([osp.dirname(p) for p in paths])
    return [osp.join(out_dir, osp.relpath(p, base) + '.png') for p in paths]


def main(argv=None):
    args = parse_args(argv)
    check_output_dir(args.out_dir, '--out-dir')
    images = collect_images(args.images)
    if not images:
        raise SystemExit(f'error: no image files in {" ".join(args.images)}')
    outputs = output_paths(images, args.out_dir)
    existing = [p for p in outputs if osp.exists(p)]
    if existing and not args.overwrite:
        raise SystemExit(f'error: {len(existing)} of the {len(outputs)} PNGs already exist (e.g. '
                         f'{existing[0]}); pass --overwrite to replace them, or another --out-dir')
    inferencer = build_inferencer(argparse.Namespace(config=args.config, checkpoint=args.weights,
                                                     device=args.device, norm=args.norm))
    model = inferencer.model
    try:
        patch_grid(model)
    except ValueError as err:
        raise SystemExit(f'error: {err}')
    written, skipped = 0, []
    progress = ProgressBar(len(images), file=sys.stderr)
    for path, out in zip(images, outputs):
        progress.update()
        image, why = read_image(path)
        if image is None:
            skipped.append(path)
            print(f'\nskipped {path}: {why}', file=sys.stderr)
            continue
        batch = inferencer.collate_fn([inferencer.pipeline(image)])
        _, maps = predict_with_attention(model, batch)
        shown = batch['inputs'][0].permute(1, 2, 0).numpy()[..., ::-1]   # BGR -> RGB
        os.makedirs(osp.dirname(out), exist_ok=True)
        draw_attention_grid(shown, maps[0]).savefig(out, dpi=100)
        written += 1
    print(f'\n{written} attention grids written to {args.out_dir}, {len(skipped)} images '
          'skipped (unreadable)')


if __name__ == '__main__':
    main()
