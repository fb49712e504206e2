"""Encode a folder of natural images into a DPTR ORP feature bank.

    python tools/extract_orp_bank.py IMAGE_DIR data/orp/bank.safetensors \\
        --config configs/clip4str/clip4str_b16.py --clip-weights data/clip/ViT-B-16.pt

Every image (.jpg, .jpeg, .png, .bmp, .webp; searched recursively) gets CLIP's preprocessing
(RGB, bicubic resize of the shorter side to cover the tower's input, centre crop, OpenAI mean /
std) and goes through the config's CLIP image tower in batches; all its tokens after ``ln_post``
and ``proj`` are stored: a bank ``(N, tokens, D)`` in fp16 (197 x 512 per image for ViT-B/16),
as safetensors (key ``features``) or ``.npy``. Unreadable images are skipped and counted.
"""
import argparse
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from PIL import Image, UnidentifiedImageError

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
import clip4str_plugin  # noqa: F401

EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image_dir')
    parser.add_argument('out', help='.safetensors or .npy')
    parser.add_argument('--config', required=True, help='a config with a CLIPVisionBackbone')
    parser.add_argument('--clip-weights', help='overrides the config\'s CLIP weights file')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    return parser.parse_args()


def clip_preprocess(image: Image.Image, height: int, width: int) -> torch.Tensor:
    """RGB, bicubic resize to cover (height, width), centre crop, OpenAI normalisation."""
    image = image.convert('RGB')
    scale = max(height / image.height, width / image.width)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    image = image.crop((left, top, left + width, top + height))
    arr = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (arr - torch.tensor(OPENAI_MEAN)[:, None, None]) / torch.tensor(OPENAI_STD)[:, None,
                                                                                       None]


def list_images(root: str):
    if not osp.isdir(root):
        raise SystemExit(f'image folder not found: {root}')
    return sorted(osp.join(d, f) for d, _, files in os.walk(root) for f in files
                  if f.lower().endswith(EXTENSIONS))


def main():
    args = parse_args()
    init_default_scope('mmocr')
    from mmocr.registry import MODELS
    cfg = Config.fromfile(args.config).model.backbone
    if args.clip_weights:
        cfg.pretrained = args.clip_weights
    torch.manual_seed(0)   # only matters without weights: a reproducible random tower
    backbone = MODELS.build(cfg)
    if backbone.pretrained:
        backbone.load_pretrained()
    else:
        print('no CLIP weights given: the image tower is randomly initialised (seed 0)')
    backbone = backbone.to(args.device).eval()
    height, width = backbone.visual.image_size
    paths = list_images(args.image_dir)
    if not paths:
        raise SystemExit(f'no images under {args.image_dir}')
    features, skipped, batch = [], [], []
    progress = ProgressBar(len(paths))

    def flush():
        with torch.no_grad():
            out = backbone(torch.stack(batch).to(args.device))
        features.append(out.half().cpu())
        batch.clear()

    for path in paths:
        try:
            with Image.open(path) as image:
                batch.append(clip_preprocess(image, height, width))
        except (UnidentifiedImageError, OSError, ValueError):
            skipped.append(path)
        if len(batch) == args.batch_size:
            flush()
        progress.update()
    if batch:
        flush()
    if not features:
        raise SystemExit('no image could be read')
    bank = torch.cat(features)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if args.out.endswith('.npy'):
        np.save(args.out, bank.numpy())
    else:
        from safetensors.torch import save_file
        save_file({'features': bank.contiguous()}, args.out)
    print(f'\nwrote {args.out}: {tuple(bank.shape)} fp16 from {len(paths) - len(skipped)} '
          f'images; skipped {len(skipped)} unreadable' + (f' (e.g. {skipped[0]})'
                                                          if skipped else ''))


if __name__ == '__main__':
    main()
