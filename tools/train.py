"""Train a recognizer from a config with the MMEngine Runner.

    python tools/train.py configs/clip4str/clip4str-b16_16e_real.py [--amp] [--resume [CKPT]]
    bash tools/dist_train.sh CONFIG NUM_GPUS [...]          # torchrun, several processes / nodes

``--amp``: fp16 autocast with dynamic loss scaling on GPU (CLIP4STR's reference trains with
precision=16; OpenOCR's trainer ran DPTR under ``torch.cuda.amp.autocast()`` with a GradScaler
when DPTR was released), bf16 autocast on CPU.
``--resume`` continues from the newest checkpoint of the work
dir (the newest intact one: a damaged newest checkpoint is skipped with a warning), or from CKPT.
Checkpoints are written crash-safe and load weights-only; a checkpoint that cannot be used stops
the run with one line (``error: ...``, exit status 1). A work dir holds one run at a time: a run
started into the work dir of a run still going stops with one line (the lock ends with the
process, so resuming after a crash needs nothing removed).
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.engine.checkpoint_io import find_resumable_checkpoint
from clip4str_plugin.errors import DataError
from clip4str_plugin.cli.launch import (add_launch_args, close_distributed, init_cpu_distributed,
                                        load_config)
from clip4str_plugin.cli.run_lock import WorkDirBusyError, first_process, lock_work_dir
from clip4str_plugin.fileio import NoSpaceError
from clip4str_plugin.weights.errors import CheckpointError
from clip4str_plugin.weights.loading import check_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or from the newest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the total batch (the configs do by default)')
    add_launch_args(parser)
    return parser.parse_args()


def setup_cfg(args) -> Config:
    cfg = load_config(args)
    if args.amp:
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        else:
            cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, find_resumable_checkpoint(cfg.work_dir)
    elif args.resume:    # a local file is checked at once, before data and model are built
        cfg.resume, cfg.load_from = True, (args.resume if '://' in args.resume
                                           else check_checkpoint_file(args.resume))
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    return cfg


def main():
    sys.path.append(ROOT)   # configs may import repo-relative packages (projects.*), as MMOCR's
    use_weights_only_loader()
    try:
        cfg = setup_cfg(parse_args())
        # held for the run (rank 0 holds it for all the processes of its launch); released
        # however the run ends, also when main() is called in-process and raises
        lock = lock_work_dir(cfg.work_dir) if first_process(cfg.launcher) else None
        try:
            init_cpu_distributed(cfg.launcher)
            runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
            runner.train()
            close_distributed()
        finally:
            if lock is not None:
                lock.close()
    except (CheckpointError, DataError, WorkDirBusyError, NoSpaceError) as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
