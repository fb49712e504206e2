"""The official CLIP4STR state-dict layout and its map onto this plugin's modules.

| reference prefix                                   | plugin prefix                       |
| -------------------------------------------------- | ----------------------------------- |
| ``clip_model.visual.``                             | ``backbone.visual.``                |
| ``clip_model.`` + token_embedding, positional_embedding, transformer, ln_final, text_projection | ``decoder.text_encoder.text.`` |
| ``visual_decoder.``                                | ``decoder.visual_decoder.``         |
| ``cross_decoder.``                                 | ``decoder.cross_decoder.``          |
| ``clip_model.logit_scale``                         | dropped (CLIP's contrastive scale)  |
"""
from typing import Dict, List, Mapping, Tuple

import torch

from .clip_weights import TEXT_TOWER_KEYS

PREFIX_MAP = (
    ('clip_model.visual.', 'backbone.visual.'),
    *((f'clip_model.{key}', f'decoder.text_encoder.text.{key}') for key in TEXT_TOWER_KEYS),
    ('visual_decoder.', 'decoder.visual_decoder.'),
    ('cross_decoder.', 'decoder.cross_decoder.'),
)
DROPPED = ('clip_model.logit_scale', )


def map_reference_key(key: str) -> str:
    """Plugin key of a reference key; '' for a dropped key; raises KeyError when unknown."""
    if key in DROPPED:
        return ''
    for src, dst in PREFIX_MAP:
        if key.startswith(src):
            return dst + key[len(src):]
    raise KeyError(key)


def convert_reference_state_dict(
        state: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename a reference state dict; returns (plugin state dict, unmapped reference keys)."""
    converted, unmapped = {}, []
    for key, value in state.items():
        try:
            new_key = map_reference_key(key)
        except KeyError:
            unmapped.append(key)
            continue
        if new_key:
            converted[new_key] = value
    return converted, unmapped
