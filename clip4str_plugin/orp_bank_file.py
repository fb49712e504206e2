"""DPTR's ORP feature bank file: reading, checking and writing it.

A bank is ``(N, tokens, D)`` fp16: every token of N images after a CLIP image tower's ``ln_post``
and ``proj`` (197 x 512 per image for ViT-B/16), as ``.safetensors`` (key ``features``) or
``.npy``, never a pickle. A ``.safetensors`` bank records the tower that built it
(:func:`tower_fingerprint`, metadata ``tower``), so that a bank of another CLIP is not reused
unnoticed. A bottom module (errors and fileio only): ORP reads banks here, and
:mod:`clip4str_plugin.datasets.orp_bank` builds them.
"""
import io
import json
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from .errors import DataError, DataNotFoundError
from .fileio import file_sha256, write_atomically

TOWER_KEY = 'tower'     # the metadata entry naming the tower that built the bank


class ORPBankError(DataError):
    """An ORP bank that is missing, unreadable, or cannot serve the model's memory."""


def load_bank(path: str) -> torch.Tensor:
    """The bank ``(N, tokens, D)`` of ``path`` (``.safetensors`` or ``.npy``)."""
    if not osp.isfile(path):
        raise DataNotFoundError(f'ORP feature bank not found: {path} (make one with '
                                'tools/extract_orp_bank.py, or let ORPBankHook build it)')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        bank = load_file(path).get('features')
        if bank is None:
            raise ORPBankError(f'{path} has no "features" tensor')
    elif path.endswith('.npy'):
        bank = torch.from_numpy(np.load(path, mmap_mode='r', allow_pickle=False).copy())
    else:
        raise ORPBankError(f'ORP bank must be .safetensors or .npy, got {path}')
    if bank.ndim != 3:
        raise ORPBankError(f'ORP bank {path} has shape {tuple(bank.shape)}; expected (N, T, D)')
    check_bank_values(bank, path)
    return bank


def check_bank_values(bank: torch.Tensor, path: str) -> None:
    """Refuse a bank that is not floating-point or holds NaN or infinite values (it would be
    mixed into every memory: a NaN loss from the first step, or integers read as features)."""
    if not bank.is_floating_point():
        raise ORPBankError(f'ORP bank {path} is {str(bank.dtype).replace("torch.", "")}, not '
                           'floating-point features: make it with tools/extract_orp_bank.py')
    finite = torch.isfinite(bank)
    if not bool(finite.all()):
        raise ORPBankError(f'ORP bank {path} holds {int((~finite).sum())} NaN or infinite values '
                           f'of {bank.numel()}: a damaged file; delete it to rebuild it')


def bank_shape(path: str) -> Tuple[int, ...]:
    """The shape of the bank in ``path``, read from its header only."""
    from safetensors import SafetensorError, safe_open
    try:
        if path.endswith('.safetensors'):
            with safe_open(path, framework='pt') as f:
                if 'features' not in f.keys():
                    raise ORPBankError(f'{path} has no "features" tensor')
                return tuple(f.get_slice('features').get_shape())
        if path.endswith('.npy'):
            return tuple(np.load(path, mmap_mode='r', allow_pickle=False).shape)
    except (SafetensorError, OSError, ValueError) as err:
        if isinstance(err, ORPBankError):
            raise
        raise ORPBankError(f'cannot read ORP bank {path} ({err}): delete it to rebuild it') \
            from None
    raise ORPBankError(f'ORP bank must be .safetensors or .npy, got {path}')


def bank_tower(path: str) -> Optional[str]:
    """The fingerprint of the tower that built the bank ``path`` (None: not recorded, e.g.
    ``.npy``)."""
    if not path.endswith('.safetensors'):
        return None
    from safetensors import safe_open
    with safe_open(path, framework='pt') as f:
        return (f.metadata() or {}).get(TOWER_KEY)


def tower_fingerprint(cfg: dict) -> str:
    """What decides the features of the tower that ``cfg`` builds: the SHA-256 of its weights
    file, or, for a random tower (seed 0,
    :func:`~clip4str_plugin.datasets.orp_bank.build_tower`), its config."""
    weights = cfg.get('pretrained')
    if not weights:
        geometry = {k: v for k, v in cfg.items() if k not in ('pretrained', 'init_cfg')}
        return 'random (seed 0) ' + json.dumps(geometry, sort_keys=True, default=str)
    if not osp.isfile(weights):
        raise DataNotFoundError(f'the ORP bank\'s CLIP image tower weights not found: {weights}')
    return f'weights sha256 {file_sha256(weights)}'


def write_bank(bank: torch.Tensor, path: str, tower: Optional[str] = None) -> None:
    """Write ``bank`` (fp16) to ``path`` atomically (temporary file in its folder, rename);
    ``tower`` (:func:`tower_fingerprint`) goes into a ``.safetensors`` file's metadata."""
    bank = bank.half().contiguous()
    if path.endswith('.npy'):
        buffer = io.BytesIO()
        np.save(buffer, bank.numpy(), allow_pickle=False)
        data = buffer.getvalue()
    elif path.endswith('.safetensors'):
        from safetensors.torch import save
        data = save({'features': bank}, metadata={TOWER_KEY: tower} if tower else None)
    else:
        raise ORPBankError(f'ORP bank must be .safetensors or .npy, got {path}')
    write_atomically(path, data)


def check_bank(shape: Sequence[int], path: str, tokens: int, width: int,
               batch_size: Optional[int] = None, rebuild: str = '') -> None:
    """Refuse a bank that cannot serve memories of ``tokens x width`` (and batches of
    ``batch_size`` distinct images), in one line ending with ``rebuild`` (how to make one)."""
    n = batch_size or 1
    if len(shape) == 3 and shape[2] == width and shape[1] >= tokens and shape[0] >= n:
        return
    raise ORPBankError(
        f'ORP bank {path} has shape {tuple(shape)} but the model needs (N >= {n}, T >= {tokens}, '
        f'D = {width}): image tokens of the CLIP whose text tower makes the memory '
        f'({tokens} tokens of width {width}){rebuild}')
