"""Checks of the tools' command-line values before anything is built: counts, devices, config
files, output folders and files. Each failure ends the tool with one line, ``error: <message>``
on stderr and exit status 1 (``SystemExit``), instead of a traceback from deep inside torch or
MMEngine."""
import math
import os
import os.path as osp
from typing import Optional

import torch


def fail(message: str):
    """End the tool: ``error: <message>`` on stderr, exit status 1."""
    raise SystemExit(f'error: {message}')


def check_positive(option: str, values) -> None:
    """Every value of ``values`` (one int or several) is a whole number >= 1."""
    for value in values if isinstance(values, (list, tuple)) else [values]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail(f'{option} must be a positive whole number, got {value!r}')


def check_at_most(option: str, value, limit, why: str) -> None:
    """``value`` is a finite number > 0 and at most ``limit`` (``why``: the reason for it)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value <= 0):
        fail(f'{option} must be a positive number, got {value!r}')
    if value > limit:
        fail(f'{option} {value!r} is more than {limit!r} ({why})')


def check_device(device: Optional[str], option: str = '--device') -> Optional[str]:
    """``device`` when torch can run on it here (None: the tool's default), else one line:
    not a device string, a backend that is not available, or an index past the last device."""
    if device is None:
        return None
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        fail(f'{option} {device}: not a device (cpu, cuda, cuda:1 ...)')
    if parsed.type == 'cpu':
        return device
    backend = getattr(torch, parsed.type, None)
    if not callable(getattr(backend, 'is_available', None)) or not backend.is_available():
        why = ('this torch is built without CUDA' if parsed.type == 'cuda'
               and torch.version.cuda is None else 'no such device is visible')
        fail(f'{option} {device}: {parsed.type} is not available here ({why}); use '
             f'{option} cpu')
    count = backend.device_count() if callable(getattr(backend, 'device_count', None)) else 1
    if parsed.index is not None and parsed.index >= count:
        fail(f'{option} {device}: only {count} {parsed.type} device(s) visible '
             f'({parsed.type}:0 to {parsed.type}:{count - 1})')
    return device


def check_config(path: str, option: str = 'config') -> str:
    """``path`` when it is a file (a config that MMEngine can read), else one line."""
    if osp.isdir(path):
        fail(f'{option} {path} is a folder, not a config file')
    if not osp.isfile(path):
        fail(f'{option} not found: {path}')
    return path


def _check_writable(path: str, option: str, folder: str) -> None:
    """One line when ``folder`` (``path`` or its folder) cannot be made or written: its nearest
    existing path (itself included) is a file, or a folder that is not writable."""
    current = osp.abspath(folder)
    while not osp.exists(current):
        current = osp.dirname(current)
    if not osp.isdir(current):
        fail(f'{option} {path}: {current} is a file, so no folder can be made in it')
    if not os.access(current, os.W_OK | os.X_OK):
        fail(f'{option} {path}: {current} is not writable; give a folder you can write to')


def check_output_dir(path: Optional[str], option: str) -> Optional[str]:
    """``path`` when it is a folder or can be created as one, else one line (an existing file
    in its place or above it, or a folder that cannot be written)."""
    if path is None:
        return None
    if osp.exists(path) and not osp.isdir(path):
        fail(f'{option} {path} is a file, not a folder: give a folder (created when missing)')
    _check_writable(path, option, path)
    return path


def check_output_file(path: Optional[str], option: str) -> Optional[str]:
    """``path`` when a file can be written there, else one line (a folder in its place, a
    file where one of its folders should be, or a folder that cannot be written)."""
    if path is None:
        return None
    if osp.isdir(path):
        fail(f'{option} {path} is a folder: give the name of the file to write')
    _check_writable(path, option, osp.dirname(osp.abspath(path)))
    return path
