"""What tools/train.py and tools/test.py share: launcher arguments, the config, CPU runs.

MMEngine's ``init_dist`` always calls ``cuda.set_device`` and its DDP wrapper passes device ids,
so without a GPU a torchrun launch needs a gloo group started here and a wrapper without ids.
"""
import argparse
import os
import os.path as osp

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction


def add_launch_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and torchrun's ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied and, without CUDA, gloo and device-less DDP."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
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
    return cfg


def init_cpu_distributed(launcher: str) -> bool:
    """Start a gloo process group from torchrun's environment when there is no CUDA device.

    The Runner then finds the group initialised and skips its own (CUDA-only) set-up. Returns
    whether a group was started here; does nothing with a GPU, one process or an existing group.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    torch_dist.init_process_group(backend='gloo')
    return True
