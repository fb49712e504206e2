"""CLIP weights from a local file (or one named, :mod:`.named_weights`), keyed in the OpenAI
layout of open_clip's ``CLIP`` (``visual.*``, ``token_embedding.weight``, ``transformer.*`` ...).

OpenAI's TorchScript ``.pt`` archives are read by ``torch.jit.load`` (TorchScript, not Python;
only the tensors are kept), every other file (open_clip / Hugging Face state dicts,
``.safetensors``) as a checkpoint (:func:`~.loading.load_checkpoint_file`).
"""
import os
import re
import warnings
from typing import Dict, Mapping

import torch

from .errors import MALFORMED_PICKLE_ERRORS, CheckpointError, unpickling_reason
from .loading import check_checkpoint_file, load_checkpoint_file
from .named_weights import FORMS, resolve_weights
from .zip_limits import is_torchscript_archive

#: OpenAI-layout keys of the text tower (everything that is not ``visual.*`` or ``logit_scale``).
TEXT_TOWER_KEYS = ('token_embedding.', 'positional_embedding', 'transformer.', 'ln_final.',
                   'text_projection')


class CLIPWeightsError(CheckpointError):
    """CLIP weights are missing, cannot be fetched, are unreadable or do not match the model."""


def _read_tensors(path: str) -> Mapping:
    if not is_torchscript_archive(path):
        obj = load_checkpoint_file(path)
        for key in ('state_dict', 'model', 'module'):     # wrappers around the state dict
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
        return obj
    check_checkpoint_file(path)      # size, zip directory, inflation, CRC
    try:
        with warnings.catch_warnings():     # (torch >= 2.10 says TorchScript is deprecated)
            warnings.simplefilter('ignore', FutureWarning)
            return torch.jit.load(path, map_location='cpu').state_dict()
    except MALFORMED_PICKLE_ERRORS as err:
        raise CLIPWeightsError(f'cannot read CLIP weights from {path}: the file is corrupt, '
                               'truncated or not a weights file ('
                               f'{type(err).__name__}: {unpickling_reason(err)})') from None


def load_clip_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of CLIP weights, keyed in the OpenAI layout: a local file, or a name that
    :mod:`.named_weights` fetches into its cache (``'ViT-B-16:openai'``, ``'hf-hub:...'``)."""
    try:
        path = resolve_weights(path)
        if not os.path.isfile(path):
            raise CLIPWeightsError(f'CLIP weights file not found: {path} (CLIP weights are '
                                   f'{FORMS})')
        tensors = _read_tensors(path)
    except CLIPWeightsError:
        raise
    except CheckpointError as err:  # not fetched, unreadable, refused, sparse rows that do not fit
        raise CLIPWeightsError(str(err)) from None
    state = {re.sub(r'^(module\.)?(clip_model\.)?', '', key): value
             for key, value in tensors.items() if isinstance(value, torch.Tensor)}
    if not state:
        raise CLIPWeightsError(f'{path} contains no tensors')
    return state
