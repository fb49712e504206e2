"""Encode a folder of natural images into a DPTR ORP feature bank.

    python tools/extract_orp_bank.py IMAGE_DIR data/orp/bank.safetensors \\
        --config configs/dptr/dptr_pretrain_clip-b16_art.py [--clip-weights data/clip/ViT-B-16.pt]

The CLIP image tower is the config's ``ORPBankHook`` tower (DPTR pre-training configs) or its
``model.backbone`` (a CLIP4STR config). Every image (.jpg, .jpeg, .png, .bmp, .webp; searched
recursively) gets CLIP's preprocessing and goes through the tower in batches; all its tokens
after ``ln_post`` and ``proj`` are stored: a bank ``(N, tokens, D)`` in fp16, as safetensors (key
``features``) or ``.npy``, written atomically; a safetensors bank records its tower (the SHA-256
of the weights file), and ``ORPBankHook`` refuses to reuse it with another. Unreadable images,
images whose header claims more than 40 megapixels (``CLIP4STR_MAX_IMAGE_PIXELS``) and files
that are not regular files (a FIFO) are skipped; the first two are counted.
Pre-training with ``ORPBankHook`` builds the same bank itself when it is missing
(clip4str_plugin/datasets/orp_bank.py does the work for both). An existing OUT is replaced
only with ``--overwrite``.
"""
import argparse
import sys

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
import clip4str_plugin  # noqa: F401
from clip4str_plugin.errors import DataError
from clip4str_plugin.cli.checks import (check_config, check_device, check_output_file,
                                               check_positive)
from clip4str_plugin.fileio import NoSpaceError, refuse_existing_output
from clip4str_plugin.datasets.orp_bank import (build_tower, describe_skips, extract_bank,
                                               list_images)
from clip4str_plugin.orp_bank_file import tower_fingerprint, write_bank
from clip4str_plugin.weights.errors import CheckpointError


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image_dir')
    parser.add_argument('out', help='.safetensors or .npy')
    parser.add_argument('--config', required=True,
                        help='a config with an ORPBankHook or a CLIPVisionBackbone backbone')
    parser.add_argument('--clip-weights', help='overrides the config\'s CLIP weights file')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing out')
    args = parser.parse_args()
    check_config(args.config, '--config')
    check_positive('--batch-size', args.batch_size)
    check_device(args.device)
    check_output_file(args.out, 'OUT')
    refuse_existing_output(args.out, args.overwrite, [args.config, args.clip_weights])
    return args


def tower_config(cfg: Config) -> dict:
    """The ORPBankHook's tower of ``cfg``, else its backbone."""
    for hook in cfg.get('custom_hooks', []):
        if hook.get('type') == 'ORPBankHook':
            return dict(hook['tower'])
    return dict(cfg.model.backbone)


def main():
    args = parse_args()
    init_default_scope('mmocr')
    logger = MMLogger.get_instance('extract_orp_bank')
    try:
        tower_cfg = tower_config(Config.fromfile(args.config))
        if args.clip_weights:
            tower_cfg['pretrained'] = args.clip_weights
        paths = list_images(args.image_dir)
        bank, skipped = extract_bank(build_tower(tower_cfg, logger), paths, args.batch_size,
                                     args.device)
        write_bank(bank, args.out, tower=tower_fingerprint(tower_cfg))
    except (CheckpointError, DataError, NoSpaceError) as err:
        sys.exit(f'error: {err}')
    used = len(paths) - sum(map(len, skipped.values()))
    print(f'\nwrote {args.out}: {tuple(bank.shape)} fp16 from {used} images; '
          + describe_skips(skipped))


if __name__ == '__main__':
    main()
