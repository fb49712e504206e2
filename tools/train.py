"""Train a recognizer from a config with the MMEngine Runner.

    python tools/train.py configs/clip4str/clip4str-b16_16e_real.py [--amp] [--resume [CKPT]]
    bash tools/dist_train.sh CONFIG NUM_GPUS [...]          # torchrun, several processes / nodes

``--amp``: fp16 autocast with dynamic loss scaling on GPU (the reference trains with
precision=16), bf16 autocast on CPU. ``--resume`` continues from the newest checkpoint of the work
dir, or from CKPT. Checkpoints load weights-only (see clip4str_plugin.engine.checkpoint).
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import clip4str_plugin  # noqa: F401  (registers the plugin and the safe checkpoint loader)
from clip4str_plugin.engine.dist import init_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or from the newest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the total batch (the configs do by default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def setup_cfg(args) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if not torch.cuda.is_available():
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.launcher != 'none':  # DDP of a CPU model takes no device ids
            wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False)
            wrapper.update(cfg.get('model_wrapper_cfg') or {}, device_ids=None)
            cfg.model_wrapper_cfg = wrapper
    if args.amp:
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        else:
            cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    return cfg


def main():
    cfg = setup_cfg(parse_args())
    init_cpu_distributed(cfg.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
