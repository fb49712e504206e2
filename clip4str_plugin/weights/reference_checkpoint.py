"""Official CLIP4STR checkpoints: read them safely, work out their geometry, convert them.

The released files are Lightning ``.ckpt`` archives (``state_dict`` + ``hyper_parameters``) and
Hugging Face ``.pt`` files; both are torch zip pickles. They are read by the data-only unpickler:
tensors come out, the Lightning / omegaconf objects around them become inert records, and any
call of something else (code a file could run) is refused. The geometry (B/16, B/32, L/14, H/14,
or another one) is read from the tensor shapes, never from the file name.
"""
import os
import re
from typing import Dict, Mapping, Optional, Tuple

import torch

from .reference_layout import convert_reference_state_dict
from .safe_pickle import UnsafePickleError, load_zip_pickle

#: Modules whose objects appear in Lightning checkpoints around the weights (hyper-parameters,
#: loop and scheduler states): rebuilt as inert records, never imported.
LIGHTNING_DATA_MODULES = ('pytorch_lightning', 'lightning', 'lightning_fabric', 'omegaconf',
                          'torch.optim', 'typing', 'enum', 'pathlib', 'argparse', 'datetime',
                          'hydra', 'strhub')

REQUIRED_KEYS = ('clip_model.visual.conv1.weight', 'clip_model.visual.proj',
                 'clip_model.token_embedding.weight', 'clip_model.ln_final.weight',
                 'visual_decoder.head.weight', 'cross_decoder.head.weight',
                 'visual_decoder.pos_queries')

#: The released variants, by (vision width, patch, vision layers, embed dim, text width, text
#: layers), and the config each belongs to.
VARIANTS = {
    (768, 16, 12, 512, 512, 12): 'clip4str_b16.py',
    (768, 32, 12, 512, 512, 12): 'clip4str_b32.py',
    (1024, 14, 24, 768, 768, 12): 'clip4str_l14.py',
    (1280, 14, 32, 1024, 1024, 24): 'clip4str_h14.py',
}


#: How the authors' ``read.py`` (and test script) normalise crops: torchvision's
#: ``Normalize(0.5, 0.5)`` on 0-1 pixels, i.e. mean = std = 127.5 on the data preprocessor's 0-255
#: RGB pixels. The converter records it in ``meta['normalization']`` and its embedded config.
READ_PY_NORMALIZATION = dict(mean=[127.5] * 3, std=[127.5] * 3, source='official read.py')
#: The OpenAI CLIP statistics (0-255, RGB) the authors train and validate with.
OPENAI_NORMALIZATION = dict(mean=[122.770938, 116.7460125, 104.09373615],
                            std=[68.5005327, 66.6321579, 70.32316305],
                            source='OpenAI CLIP (official training and validation)')


class CheckpointLayoutError(ValueError):
    """The file is not a CLIP4STR checkpoint in the reference layout."""


def _not_official(path: str) -> CheckpointLayoutError:
    return CheckpointLayoutError(
        f'{path} is not an official CLIP4STR checkpoint (it looks like an MMEngine/plugin '
        'checkpoint: use it directly with load_from / tools/test.py)')


def read_reference_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of an official checkpoint (Lightning ``.ckpt`` or ``.pt``), read as data only."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        obj = load_zip_pickle(path, inert_modules=LIGHTNING_DATA_MODULES)
    except UnsafePickleError as err:    # MMEngine's HistoryBuffer & co. are not inert data
        if 'mmengine.' in str(err):
            raise _not_official(path) from None
        raise
    if isinstance(obj, Mapping) and {'meta', 'state_dict'} <= set(obj):
        raise _not_official(path)
    state = obj.get('state_dict', obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping):
        raise CheckpointLayoutError(f'{path} holds no state dict')
    state = {k[len('model.'):] if k.startswith('model.') else k: v
             for k, v in state.items() if isinstance(v, torch.Tensor)}
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        sample = ', '.join(sorted(state)[:5]) or 'no tensors'
        raise CheckpointLayoutError(
            f'{path} is not a CLIP4STR checkpoint in the reference layout: missing '
            f'{", ".join(missing)} (it holds e.g. {sample})')
    return state


def _count_blocks(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    return len({int(m.group(1)) for k in state for m in [pattern.match(k)] if m})


def infer_geometry(state: Mapping[str, torch.Tensor]) -> Dict:
    """Model geometry from the tensor shapes of a reference state dict."""
    conv = state['clip_model.visual.conv1.weight']
    width, _, patch_h, patch_w = conv.shape
    tokens = state['clip_model.visual.positional_embedding'].shape[0] - 1
    side = int(round(tokens ** 0.5))
    head = state['visual_decoder.head.weight']
    return dict(
        vision=dict(width=int(width), patch_size=int(patch_h) if patch_h == patch_w
                    else (int(patch_h), int(patch_w)),
                    layers=_count_blocks(state, 'clip_model.visual.transformer.resblocks.'),
                    image_size=int(side * patch_h) if side * side == tokens else None),
        embed_dim=int(state['clip_model.visual.proj'].shape[1]),
        text=dict(width=int(state['clip_model.ln_final.weight'].shape[0]),
                  layers=_count_blocks(state, 'clip_model.transformer.resblocks.'),
                  vocab_size=int(state['clip_model.token_embedding.weight'].shape[0]),
                  context_length=int(state['clip_model.positional_embedding'].shape[0])),
        decoder=dict(embed_dim=int(head.shape[1]), num_classes=int(head.shape[0]),
                     depth=_count_blocks(state, 'visual_decoder.layers.'),
                     mlp_ratio=state['visual_decoder.layers.0.linear1.weight'].shape[0]
                     / head.shape[1],
                     max_length=int(state['visual_decoder.pos_queries'].shape[1])),
    )


def variant_of(geometry: Dict) -> Optional[str]:
    """The config file of a released variant with this geometry, or None."""
    v, t = geometry['vision'], geometry['text']
    key = (v['width'], v['patch_size'], v['layers'], geometry['embed_dim'], t['width'],
           t['layers'])
    return VARIANTS.get(key)


def convert(path: str) -> Tuple[Dict[str, torch.Tensor], Dict, list, list]:
    """Read and rename an official checkpoint: (plugin state dict, geometry, unmapped keys,
    all reference keys)."""
    state = read_reference_state_dict(path)
    geometry = infer_geometry(state)
    converted, unmapped = convert_reference_state_dict(state)
    return converted, geometry, unmapped, sorted(state)
