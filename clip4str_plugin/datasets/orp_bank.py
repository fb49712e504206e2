"""DPTR's ORP feature bank: natural images through a CLIP image tower, stored as one tensor.

A bank is ``(N, tokens, D)`` fp16: every token of N images after the tower's ``ln_post`` and
``proj`` (197 x 512 per image for ViT-B/16), as ``.safetensors`` (key ``features``) or ``.npy``,
never a pickle. ``tools/extract_orp_bank.py`` and ``ORPBankHook`` both build it here. A
``.safetensors`` bank records the tower that built it (:func:`tower_fingerprint`, metadata
``tower``), so that a bank of another CLIP is not reused unnoticed.
"""
import io
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.utils import track_iter_progress
from PIL import Image

from clip4str_plugin.datasets.errors import DataError, DataNotFoundError
from clip4str_plugin.datasets.image_io import (ImageReadError, ImageTooLargeError, list_image_files,
                                               read_pil_image)
from clip4str_plugin.fileio import file_sha256, write_atomically

TOWER_KEY = 'tower'     # the metadata entry naming the tower that built the bank
EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
SKIP_REASONS = ('unreadable', 'over the pixel limit')   # how extract_bank counts its skips


class ORPBankError(DataError):
    """An ORP bank that is missing, unreadable, or cannot serve the model's memory."""


# ---------------------------------------------------------------- the file
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
    file, or, for a random tower (seed 0, :func:`build_tower`), its config."""
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


# ---------------------------------------------------------------- building it
def list_images(root: str) -> List[str]:
    """Every image file (regular files only: a FIFO would block) below ``root``, sorted."""
    if not osp.isdir(root):
        raise DataNotFoundError(f'ORP image folder not found: {root}')
    paths = list_image_files(root, EXTENSIONS)
    if not paths:
        raise DataNotFoundError(f'no images ({", ".join(EXTENSIONS)}) under {root}')
    return paths


def cover_geometry(size: Tuple[int, int], height: int, width: int) -> Tuple[int, ...]:
    """``(new_width, new_height, left, top)`` of resizing an image of ``size`` (w, h) to cover
    ``height x width`` and centre-cropping it, with torchvision's ``Resize(shorter side)`` +
    ``CenterCrop`` arithmetic (the reference's CLIP transform): the covering side gets exactly
    its target, the other ``int(target * other / side)`` (truncated), and the crop offsets are
    ``int(round((resized - target) / 2))`` (round half to even)."""
    w, h = size
    if height / h >= width / w:
        new_w, new_h = max(width, int(height * w / h)), height
    else:
        new_w, new_h = width, max(height, int(width * h / w))
    return new_w, new_h, int(round((new_w - width) / 2.0)), int(round((new_h - height) / 2.0))


def clip_preprocess(image: Image.Image, height: int, width: int) -> torch.Tensor:
    """``(3, height, width)``: the reference's CLIP transform: bicubic resize to cover (PIL,
    which antialiases), centre crop (:func:`cover_geometry`), then RGB, OpenAI normalisation."""
    new_w, new_h, left, top = cover_geometry(image.size, height, width)
    image = image.resize((new_w, new_h), Image.BICUBIC)
    image = image.crop((left, top, left + width, top + height)).convert('RGB')
    arr = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean, std = torch.tensor(OPENAI_MEAN), torch.tensor(OPENAI_STD)
    return (arr - mean[:, None, None]) / std[:, None, None]


def build_tower(cfg: dict, logger=None) -> torch.nn.Module:
    """The CLIP image tower of ``cfg`` (e.g. ``type='CLIPVisionBackbone'``), its weights loaded,
    in eval mode; without weights a random tower seeded 0 (the global RNG is left as it was)."""
    from mmocr.registry import MODELS
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        tower = MODELS.build(cfg)
    if not hasattr(tower, 'visual'):
        raise DataError(f'the ORP bank needs a CLIP image tower (type=\'CLIPVisionBackbone\'), '
                        f'not {type(tower).__name__}')
    if getattr(tower, 'pretrained', None):
        tower.load_pretrained()
    elif logger is not None:
        logger.warning('ORP bank: no CLIP weights given, the image tower is random (seed 0)')
    return tower.eval()


@torch.no_grad()
def extract_bank(tower: torch.nn.Module, paths: Sequence[str], batch_size: int = 32,
                 device='cpu') -> Tuple[torch.Tensor, Dict[str, List[str]]]:
    """``(bank (N, tokens, D) fp16, skipped paths by reason)``: every readable image through
    ``tower`` in batches, with MMEngine's progress bar; images over the pixel limit
    (:mod:`~clip4str_plugin.datasets.image_io`) and unreadable ones are skipped, each kind
    under its reason (:data:`SKIP_REASONS`)."""
    tower = tower.to(device)
    height, width = tower.visual.image_size
    features, batch = [], []
    skipped = {reason: [] for reason in SKIP_REASONS}

    def flush():
        features.append(tower(torch.stack(batch).to(device)).half().cpu())
        batch.clear()

    for path in track_iter_progress(list(paths)):
        try:
            batch.append(clip_preprocess(read_pil_image(path), height, width))
        except ImageTooLargeError:
            skipped['over the pixel limit'].append(path)
        except (ImageReadError, OSError, ValueError):    # (also a mode PIL cannot resize)
            skipped['unreadable'].append(path)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not features:
        raise DataError(f'no image could be read ({len(paths)} files; {describe_skips(skipped)})')
    return torch.cat(features), skipped


def describe_skips(skipped: Dict[str, List[str]]) -> str:
    """``'skipped 2 unreadable (e.g. a.jpg), 1 over the pixel limit (e.g. b.png)'``, or
    ``'skipped none'``: the counts of :func:`extract_bank`'s skips, each with an example."""
    parts = [f'{len(paths)} {reason} (e.g. {paths[0]})' for reason, paths in skipped.items()
             if paths]
    return 'skipped ' + (', '.join(parts) if parts else 'none')
