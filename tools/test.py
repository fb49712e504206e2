"""Evaluate a checkpoint and print one table: a row per test set, a column per metric.

    python tools/test.py configs/clip4str/clip4str-b16.py work_dirs/x/best.pth
    python tools/test.py CONFIG CKPT --norm openai        # OpenAI CLIP statistics (default: as
                                                          # the checkpoint records, else CONFIG's)
    python tools/test.py CONFIG CKPT --precision auto     # bf16 / fp16 weights where that is faster
    python tools/test.py CONFIG CKPT --show-dir vis --save-preds preds.pkl   # drawings, predictions
    python tools/test.py CONFIG CKPT --save-preds       # <work_dir>/predictions.pkl (and .json)
    python tools/test.py CONFIG EXPORT_DIR --backend onnxruntime   # tools/export_onnx.py's folder
    bash tools/dist_test.sh CONFIG CKPT NUM_PROCS [...]

The table is also written to ``<work_dir>/test_results.md`` and ``.json``. A checkpoint that
cannot be used (damaged, not a checkpoint, another model's) stops with one line, exit status 1;
so do ``--save-preds`` files that exist (without ``--overwrite``).
"""
import argparse
import json
import os.path as osp
import sys
from collections import OrderedDict

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.errors import DataError
from clip4str_plugin.deploy import DeployError
from clip4str_plugin.deploy.recognizer import deployed_model_cfg
from clip4str_plugin.deploy.sessions import BACKENDS
from clip4str_plugin.cli.checks import check_output_dir, check_output_file, check_positive
from clip4str_plugin.cli.launch import (add_launch_args, close_distributed, init_cpu_distributed,
                                        load_config)
from clip4str_plugin.cli.norm_option import add_norm_arg, apply_norm
from clip4str_plugin.compute.precision import CHOICES
from clip4str_plugin.fileio import refuse_existing_output
from clip4str_plugin.weights.errors import CheckpointError
from clip4str_plugin.weights.loading import check_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_PREDS = 'predictions.pkl'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    add_norm_arg(parser)
    parser.add_argument('--reference-norm', dest='norm', action='store_const', const='reference',
                        help='the same as --norm reference')
    parser.add_argument('--show-dir', help='draw every test sample (image, gt, prediction, '
                        "visual branch) into <work_dir>/<timestamp>/SHOW_DIR (absolute: as is)")
    parser.add_argument('--show', action='store_true', help='display each drawing')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each drawing is shown with --show (0: until a key)')
    parser.add_argument('--save-preds', metavar='FILE.pkl', nargs='?', const=True,
                        help="every sample's prediction: a pickle (MMEngine's DumpResults) and "
                        f'a readable .json beside it (no FILE: <work_dir>/{DEFAULT_PREDS})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing --save-preds files')
    parser.add_argument('--batch-size', type=int, help='override the test batch size')
    parser.add_argument('--precision', choices=CHOICES, default='fp32',
                        help='weights cast once after loading (auto: bf16 / fp16 only where the '
                        'hardware runs them fast; LayerNorm stays fp32)')
    parser.add_argument('--backend', choices=['pytorch', *BACKENDS], default='pytorch',
                        help='onnxruntime / openvino: CHECKPOINT is a folder written by '
                        'tools/export_onnx.py (its int8/ for int8)')
    add_launch_args(parser)
    return parser.parse_args()


def setup_cfg(args) -> Config:
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.batch_size is not None:
        check_positive('--batch-size', args.batch_size)
        cfg.test_dataloader.batch_size = args.batch_size
    if args.precision != 'fp32':
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='InferencePrecisionHook', precision=args.precision)]
    if args.show_dir and osp.isabs(args.show_dir):   # relative: in a new folder of work_dir
        check_output_dir(args.show_dir, '--show-dir')
    if args.show_dir or args.show:   # LMDB samples read from their LMDB, the visual branch drawn
        cfg.default_hooks.visualization.update(
            type='STRVisualizationHook', enable=True, draw_pred=True, draw_gt=True,
            show=args.show, wait_time=args.wait_time, out_dir=args.show_dir)
        if cfg.visualizer.type == 'TextRecogLocalVisualizer':
            cfg.visualizer.type = 'BranchTextRecogVisualizer'
    if args.save_preds is True:     # the flag alone, as MMOCR's
        args.save_preds = osp.join(cfg.work_dir, DEFAULT_PREDS)
    if args.save_preds:
        if not args.save_preds.endswith(('.pkl', '.pickle')):
            sys.exit(f'error: --save-preds {args.save_preds}: give a .pkl file (the pickle of '
                     "MMEngine's DumpResults; the readable .json is written beside it)")
        check_output_file(args.save_preds, '--save-preds')
        readable = osp.splitext(args.save_preds)[0] + '.json'
        for path in (args.save_preds, readable):
            refuse_existing_output(path, args.overwrite, [args.checkpoint],
                                   f'--save-preds: {path}')
        dump = dict(type='DumpTextPredictions', out_file_path=args.save_preds)
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, list) or 'metrics' not in evaluator:    # metric(s) alone
            cfg.test_evaluator = list(evaluator if isinstance(evaluator, list) else [evaluator])
            cfg.test_evaluator.append(dump)
        else:
            metrics = evaluator.metrics
            evaluator.metrics = [*(metrics if isinstance(metrics, list) else [metrics]), dump]
    local = args.backend == 'pytorch' and '://' not in args.checkpoint
    try:   # after the argument checks; a record is read from a local PyTorch checkpoint only
        apply_norm(cfg.model, args.norm, args.checkpoint if local else None)
    except CheckpointError as err:
        sys.exit(f'error: {err}')
    if args.backend != 'pytorch':   # the exported model in MMOCR's loop, the config's data
        if args.precision != 'fp32':
            sys.exit(f'error: --precision {args.precision} casts PyTorch weights; an exported '
                     'model runs the precision of its folder (EXPORT_DIR or EXPORT_DIR/int8)')
        cfg.model = deployed_model_cfg(cfg.model, args.checkpoint, args.backend)
        cfg.load_from = None
    return cfg


def results_table(metrics: dict, prefixes) -> str:
    """Markdown table; rows = datasets (+ average), columns = metric names."""
    rows = OrderedDict((p, {}) for p in list(prefixes) + ['average'])
    for key, value in metrics.items():
        dataset, _, name = key.partition('/')
        if dataset in rows and name:
            rows[dataset][name] = value
    columns = []
    for row in rows.values():
        columns += [c for c in row if c not in columns and not c.endswith('num_samples')]
    counts = {d: next((v for k, v in r.items() if k.endswith('num_samples')), '')
              for d, r in rows.items()}
    counts['average'] = sum(c for c in counts.values() if isinstance(c, int)) or ''
    lines = ['| dataset | samples | ' + ' | '.join(columns) + ' |',
             '| --- | ---: | ' + ' | '.join('---:' for _ in columns) + ' |']
    for dataset, row in rows.items():
        if not row:
            continue
        cells = [f'{100 * row[c]:.2f}' if isinstance(row.get(c), float) else str(row.get(c, ''))
                 for c in columns]
        lines.append(f'| {dataset} | {counts[dataset]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    sys.path.append(ROOT)   # configs may import repo-relative packages (projects.*), as MMOCR's
    use_weights_only_loader()
    args = parse_args()
    cfg = setup_cfg(args)
    init_cpu_distributed(cfg.launcher)
    try:  # an unreadable, unsafe or another model's checkpoint: one line, exit status 1
        if '://' not in args.checkpoint and args.backend == 'pytorch':
            check_checkpoint_file(args.checkpoint)   # at once, before data and model are built
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        metrics = runner.test()
    except (CheckpointError, DataError, DeployError) as err:
        sys.exit(f'error: {err}')
    close_distributed()
    if runner.rank != 0:
        return
    table = results_table(metrics, cfg.test_evaluator.get('dataset_prefixes') or [])
    print(f'\n{args.checkpoint} (values in %)\n{table}')
    with open(osp.join(cfg.work_dir, 'test_results.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(cfg.work_dir, 'test_results.json'), 'w') as f:
        json.dump(metrics, f, indent=1)


if __name__ == '__main__':
    main()
