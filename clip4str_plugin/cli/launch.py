"""What tools/train.py and tools/test.py share: launcher arguments, the config, CPU runs.

``--cfg-options`` may only name what is read after parsing: the Runner's settings (and
``resume_rescale``), or ``max_iters`` / ``max_epochs``, which re-derive the fields that the
config's variable of that name fed (:func:`~.schedules.set_training_length`, logged). Any other
top-level name is a variable already consumed by the file's fields, or read by nothing: refused.
A missing config, a work dir that is a file and a batch size below 1 are refused in one line;
``num_workers=0`` turns ``persistent_workers`` off (PyTorch's DataLoader refuses the pair).

MMEngine's ``init_dist`` always calls ``cuda.set_device`` and its DDP wrapper passes device ids,
so without a GPU a torchrun launch needs a gloo group started here and a wrapper without ids;
every launch ends its group itself (:func:`close_distributed`).
"""
import argparse
import difflib
import os
import os.path as osp
import re

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from clip4str_plugin.cli.checks import check_config, check_output_dir, check_positive
from clip4str_plugin.engine.schedules import LENGTH_NAMES, set_training_length

# Top-level keys read after parsing: by MMEngine's Runner / FlexibleRunner (from_cfg and
# self.cfg), by tools/train.py, and by ScheduleCheckHook (resume_rescale).
RUNTIME_KEYS = frozenset({
    'model', 'work_dir', 'experiment_name', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks',
    'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor',
    'log_level', 'visualizer', 'default_scope', 'randomness', 'model_wrapper_cfg', 'sync_bn',
    'find_unused_parameters', 'activation_checkpointing', 'efficient_conv_bn_eval', 'compile',
    'strategy', 'init_weights_for_test_or_val', 'runner_type', 'resume_rescale'})


def add_launch_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and torchrun's ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied and, without CUDA, gloo and device-less DDP.
    A ``--cfg-options`` key that would change nothing exits with one line (SystemExit)."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(check_config(args.config))
    cfg.launcher = args.launcher
    if args.cfg_options:
        apply_cfg_options(cfg, args.cfg_options, args.config)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    check_output_dir(cfg.work_dir, '--work-dir')
    check_dataloaders(cfg)
    if not torch.cuda.is_available():
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.launcher != 'none':  # DDP of a CPU model takes no device ids
            wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False)
            wrapper.update(cfg.get('model_wrapper_cfg') or {}, device_ids=None)
            cfg.model_wrapper_cfg = wrapper
    return cfg


def check_dataloaders(cfg: Config) -> None:
    """Each dataloader's batch size must be positive (one line, SystemExit); without worker
    processes (``num_workers=0``) ``persistent_workers`` is turned off, since PyTorch's
    DataLoader refuses it there (the shipped loaders keep their workers alive between epochs)."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not loader:
            continue
        if 'batch_size' in loader:
            check_positive(f'{name}.batch_size', loader.batch_size)
        if loader.get('num_workers', 0) == 0 and loader.get('persistent_workers'):
            loader.persistent_workers = False
            print_log(f'{name}: persistent_workers off (num_workers=0)', logger='current')


def _paths_holding(node, value, prefix=''):
    """Config paths below ``node`` whose value equals ``value``."""
    items = (node.items() if isinstance(node, dict) else
             enumerate(node) if isinstance(node, (list, tuple)) else ())
    for key, child in items:
        path = f'{prefix}.{key}' if prefix else str(key)
        if type(child) is type(value) and child == value:
            yield path
        else:
            yield from _paths_holding(child, value, path)


def _refuse_unread_key(cfg: Config, key: str, config: str) -> None:
    """SystemExit when the top-level name of ``key`` is read by nothing after parsing."""
    name = key.split('.')[0]
    if name in RUNTIME_KEYS or name in LENGTH_NAMES and name == key:
        return
    if name in cfg:
        plain = cfg.to_dict()
        value = plain.pop(name)
        holders = list(_paths_holding(plain, value)) if value not in (None, True, False) else []
        hint = f' (fields holding its value: {", ".join(holders[:4])})' if holders else ''
        raise SystemExit(f'--cfg-options {key}: {name} is a variable of {config} that was used '
                         'when the file was read, so setting it changes nothing; set the '
                         f'fields themselves{hint}')
    close = difflib.get_close_matches(name, sorted(RUNTIME_KEYS | set(LENGTH_NAMES)), n=1)
    raise SystemExit(f'--cfg-options {key}: nothing reads a top-level {name} (neither a Runner '
                     f'setting nor a variable of {config})'
                     + (f'; did you mean {close[0]}?' if close else ''))


def _refuse_call_text(key: str, value) -> None:
    """SystemExit for a value that MMEngine's ``DictAction`` left as the text of a call
    (``custom_hooks=[dict(type=X)]`` gives the string ``'dict(type=X)'``, which the Runner
    would then fail on with a traceback)."""
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, (list, tuple)):
            _refuse_call_text(key, item)
        elif isinstance(item, str) and re.match(r'\s*dict\(', item):
            raise SystemExit(f'--cfg-options {key}: {item!r} stays text (--cfg-options reads '
                             'numbers, strings, lists and tuples, not dict(...)); set fields one '
                             f'at a time ({key}.0.type=...), or put the change in a config '
                             'that inherits this one')


def apply_cfg_options(cfg: Config, options: dict, config: str) -> None:
    """Merge ``--cfg-options`` into ``cfg``: ``max_iters`` / ``max_epochs`` first (their
    re-derived fields logged), then the dotted keys, which may still set single fields."""
    options = dict(options)
    for key, value in options.items():
        _refuse_unread_key(cfg, key, config)
        _refuse_call_text(key, value)
    for name in LENGTH_NAMES:
        if name in options:
            value = options.pop(name)
            try:
                changes = set_training_length(cfg, name, value)
            except ValueError as error:
                raise SystemExit(f'--cfg-options {name}={value}: {error} ({config})') from None
            print_log(f'--cfg-options {name}={value} sets '
                      + (', '.join(changes) or 'nothing new'), logger='current')
    cfg.merge_from_dict(options)


def init_cpu_distributed(launcher: str) -> bool:
    """Start a gloo process group from torchrun's environment when there is no CUDA device.

    The Runner then finds the group initialised and skips its own (CUDA-only) set-up. Returns
    whether a group was started here; does nothing with a GPU, one process or an existing group.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    torch_dist.init_process_group(backend='gloo')
    return True


def close_distributed() -> None:
    """After the run's work, every rank: wait for the others, then end the process group. Left
    to the interpreter's exit, gloo's threads can abort a rank whose work is done ('terminate
    called without an active exception'). Nothing without a group."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
