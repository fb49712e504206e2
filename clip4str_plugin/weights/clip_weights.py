"""CLIP weights from a local file (or one named, :mod:`.named_weights`), keyed in the OpenAI
layout of open_clip's ``CLIP`` (``visual.*``, ``token_embedding.weight``, ``transformer.*`` ...).

Read without running Python from the file: OpenAI's TorchScript ``.pt`` archives by
``torch.jit.load`` (TorchScript, not Python; only the module's tensors are kept), open_clip /
Hugging Face ``.bin`` / ``.pt`` / ``.pth`` state dicts by ``torch.load(weights_only=True)``, and
``.safetensors`` (sparse-row tables made dense, :mod:`.sparse_rows`).
"""
import os
import pickle
import re
import warnings
import zipfile
from typing import Dict, Mapping

import torch
from safetensors import SafetensorError
from torch import nn

from .errors import MALFORMED_PICKLE_ERRORS, CheckpointError, unpickling_reason
from .named_weights import FORMS, resolve_weights
from .shape_checks import listing, value_error, value_problems
from .sparse_rows import load_file_sparse_rows
from .zip_limits import inflation_problem, is_torchscript_archive

#: OpenAI-layout keys of the text tower (everything that is not ``visual.*`` or ``logit_scale``).
TEXT_TOWER_KEYS = ('token_embedding.', 'positional_embedding', 'transformer.', 'ln_final.',
                   'text_projection')

_WRAPPER_KEYS = ('state_dict', 'model', 'module')


class CLIPWeightsError(CheckpointError):
    """CLIP weights are missing, cannot be fetched, are unreadable or do not match the model
    (a :class:`CheckpointError`: the tools print it as one line)."""


def _read_tensors(path: str) -> Mapping[str, torch.Tensor]:
    if path.endswith('.safetensors'):
        return load_file_sparse_rows(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            inflating = inflation_problem(archive)
        if inflating:
            raise CLIPWeightsError(f'cannot read CLIP weights from {path}: {inflating}')
        if is_torchscript_archive(path):
            with warnings.catch_warnings():     # (torch >= 2.10 says TorchScript is deprecated)
                warnings.simplefilter('ignore', FutureWarning)
                return torch.jit.load(path, map_location='cpu').state_dict()
    obj = torch.load(path, map_location='cpu', weights_only=True)
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping):
        raise CLIPWeightsError(f'{path} holds a {type(obj).__name__}, not a state dict')
    return obj


def load_clip_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Return the tensors of CLIP weights, keyed in the OpenAI layout: a local file, or a name
    that :mod:`.named_weights` fetches into its cache (``'ViT-B-16:openai'``, ``'hf-hub:...'``)."""
    try:
        path = resolve_weights(path)
        if not os.path.isfile(path):
            raise CLIPWeightsError(f'CLIP weights file not found: {path} (CLIP weights are '
                                   f'{FORMS})')
        tensors = _read_tensors(path)
    except CLIPWeightsError:
        raise
    except CheckpointError as err:      # a name not fetched, sparse rows that do not fit
        raise CLIPWeightsError(str(err)) from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, OSError, SafetensorError,
            *MALFORMED_PICKLE_ERRORS) as err:
        raise CLIPWeightsError(f'cannot read CLIP weights from {path}: the file is corrupt, '
                               'truncated or not a weights file ('
                               f'{type(err).__name__}: {unpickling_reason(err)})') from err
    state = {re.sub(r'^(module\.)?(clip_model\.)?', '', key): value
             for key, value in tensors.items() if isinstance(value, torch.Tensor)}
    if not state:
        raise CLIPWeightsError(f'{path} contains no tensors')
    return state


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], prefix: str, source: str,
              round_to_fp16: bool = False) -> None:
    """Copy ``state[prefix + name]`` into every parameter/buffer ``name`` of ``module``, or
    nothing: :class:`CLIPWeightsError` names ``source`` and the keys missing, of another shape or
    not finite floats (NaN, integer, not a tensor)."""
    own = module.state_dict()
    missing = [k for k in own if prefix + k not in state]
    mismatched = [f'{prefix + k} {tuple(state[prefix + k].shape)} vs model {tuple(v.shape)}'
                  for k, v in own.items()
                  if prefix + k in state and state[prefix + k].shape != v.shape]
    if missing or mismatched:
        problems = []
        if missing:
            problems.append(f'missing keys: {listing(prefix + k for k in missing)}')
        if mismatched:
            problems.append(f'shape mismatches: {listing(mismatched, 4)}')
        raise CLIPWeightsError(f'CLIP weights {source} do not match the configured geometry; '
                               + '; '.join(problems))
    bad_values = value_problems(own, state, prefix)
    if bad_values:
        raise value_error(f'CLIP weights {source}', bad_values, CLIPWeightsError)
    with torch.no_grad():
        for key, target in own.items():
            value = state[prefix + key]
            if round_to_fp16 and value.is_floating_point():
                value = value.half()
            target.copy_(value.to(target.dtype))
