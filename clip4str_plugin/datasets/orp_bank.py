"""DPTR's ORP feature bank, built: natural images through a CLIP image tower, one tensor.

``tools/extract_orp_bank.py`` and ``ORPBankHook`` both build a bank here; the file itself (its
``(N, tokens, D)`` fp16 layout, reading, writing, checks) is :mod:`clip4str_plugin.orp_bank_file`.
"""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from mmengine.utils import track_iter_progress
from PIL import Image

from ..errors import DataError, DataNotFoundError
from .image_io import ImageReadError, ImageTooLargeError, list_image_files, read_pil_image

EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
SKIP_REASONS = ('unreadable', 'over the pixel limit')   # how extract_bank counts its skips


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
