"""Does a checkpoint fit the module it is loaded into? One clear error instead of MMEngine's
"do not match exactly" warning, after which a wrong file would run as garbage.

The plugin's backbones and decoders call :func:`check_fit_on_load` on themselves: every load
into them (MMEngine's ``load_checkpoint``, ``init_cfg``, inferencer weights, torch's
``load_state_dict``) first runs :func:`check_checkpoint_fits` on their part of the state dict.
Other models in the process (an MMOCR detector) load as MMEngine alone loads them.

* **coverage**: the checkpoint must hold at least :data:`MIN_COVERAGE` (half) of the module's
  tensors; a detector's checkpoint, or unrelated tensors, cover next to nothing;
* **shapes**: every tensor must have the module's shape (all differing tensors counted);
* **values**: what goes into a floating-point tensor must be a finite floating-point tensor
  (:func:`value_problems`; integer buffers such as ``num_batches_tracked`` are not checked).
"""
import collections
import weakref
from typing import Iterable, List, Mapping

import numpy as np
import torch
from torch import nn

from .errors import CheckpointError, CheckpointMismatchError

#: A checkpoint must hold at least this fraction of a module's tensors to be loaded into it.
MIN_COVERAGE = 0.5
_SOURCES: collections.deque = collections.deque(maxlen=8)  # (weakref, tensor ids, file name)


class CheckpointValueError(CheckpointError):
    """Tensors that would load into floating-point weights are not finite floating-point
    numbers: NaN or infinite values, an integer dtype, or not a tensor at all."""


def listing(keys: Iterable[str], limit: int = 8) -> str:
    """``'a, b, c ... (+N more)'``: the first ``limit`` of the sorted keys."""
    keys = sorted(keys)
    return ', '.join(keys[:limit]) + (f' ... (+{len(keys) - limit} more)'
                                      if len(keys) > limit else '')


def remember_source(checkpoint: Mapping, path: str) -> None:
    """Note that ``checkpoint``'s tensors come from ``path``, for the errors below (MMEngine
    hands the model a re-keyed copy of the state dict; the tensors stay the same objects)."""
    state = checkpoint.get('state_dict', checkpoint)
    tensors = [v for v in state.values() if isinstance(v, (torch.Tensor, np.ndarray))] \
        if isinstance(state, Mapping) else []      # (numpy: what a damaged file may hold)
    if tensors:
        _SOURCES.append((weakref.ref(tensors[0]), set(map(id, tensors)), path))


def _source_of(state_dict: Mapping) -> str:
    ids = {id(v) for v in state_dict.values()}
    return next((path for ref, held, path in reversed(_SOURCES)
                 if ref() is not None and ids & held), 'the checkpoint')


def value_problems(own: Mapping[str, torch.Tensor], state_dict: Mapping,
                   prefix: str = '') -> List[str]:
    """``'key: why'`` for each ``state_dict[prefix + name]`` that would load into a
    floating-point tensor ``own[name]`` but is not a tensor, not floating-point, or holds NaN
    or infinite values."""
    problems = []
    for name, target in own.items():
        value = state_dict.get(prefix + name)
        floating = isinstance(target, torch.Tensor) and target.is_floating_point()
        if value is None or not floating:
            continue
        if not isinstance(value, torch.Tensor):
            problems.append(f'{prefix + name}: a {type(value).__name__}, not a tensor')
        elif not value.is_floating_point():
            problems.append(f'{prefix + name}: {str(value.dtype).replace("torch.", "")}')
        elif value.device.type != 'meta' and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            problems.append(f'{prefix + name}: {bad} of {value.numel()} values NaN or infinite')
    return problems


def value_error(source: str, problems: List[str],
                cls: type = CheckpointValueError) -> CheckpointError:
    """One line for :func:`value_problems`' findings in ``source`` (an error of ``cls``)."""
    return cls(
        f'{source} holds {len(problems)} tensors that are not finite floating-point weights '
        f'(e.g. {"; ".join(problems[:3])}): a damaged, diverged or wrongly converted file; use '
        'an intact checkpoint')


def check_checkpoint_fits(module: nn.Module, state_dict: Mapping, prefix: str = '') -> None:
    """:class:`~.errors.CheckpointMismatchError` (one line, with counts) when ``state_dict``
    (keys ``prefix + name``) covers less than :data:`MIN_COVERAGE` of ``module``'s tensors or
    has another shape for any of them; :class:`CheckpointValueError` for values that are not
    finite floats (:func:`value_problems`)."""
    own = {k: v for k, v in module.state_dict().items() if not k.endswith('num_batches_tracked')}
    source = _source_of(state_dict)
    where = type(module).__name__ + (f" at '{prefix}'" if prefix else '')
    covered = sum(prefix + k in state_dict for k in own)
    if own and covered < MIN_COVERAGE * len(own):
        unexpected = [k for k in state_dict if k.startswith(prefix) and k[len(prefix):] not in own]
        raise CheckpointMismatchError(
            f'{source} covers {covered} of {len(own)} tensors of {where} ({len(unexpected)} '
            f'unexpected keys, e.g. {listing(unexpected, 3)}): wrong model or layout; give a '
            "checkpoint of this config's model (an official CLIP4STR file: convert it with "
            'tools/convert_clip4str_ckpt.py)')
    mismatched = [f'{prefix + k} {tuple(state_dict[prefix + k].shape)} vs config '
                  f'{tuple(v.shape)}' for k, v in own.items()
                  if isinstance(state_dict.get(prefix + k), torch.Tensor)
                  and state_dict[prefix + k].shape != v.shape]
    if mismatched:
        raise CheckpointMismatchError(
            f'{source} does not match the model built from the config ({len(mismatched)} '
            f'tensors differ, e.g. {listing(mismatched, 3)}): use the config the checkpoint '
            'belongs to (tools/convert_clip4str_ckpt.py records it in meta)')
    problems = value_problems(own, state_dict, prefix)
    if problems:
        raise value_error(source, problems)


def _fit_hook(module, state_dict, prefix, *_) -> None:
    check_checkpoint_fits(module, state_dict, prefix)


def check_fit_on_load(module: nn.Module) -> None:
    """Run :func:`check_checkpoint_fits` before every ``load_state_dict`` into ``module`` (a
    load-state-dict pre-hook; MMEngine's loader runs it too)."""
    module.register_load_state_dict_pre_hook(_fit_hook)
