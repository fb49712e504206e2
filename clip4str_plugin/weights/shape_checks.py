"""Does a checkpoint fit the model built from the config? Clear errors instead of MMEngine's
"do not match exactly" warning, after which a wrong file would run as garbage.

Three checks of :func:`check_checkpoint_fits`, on every checkpoint MMEngine loads into a model
built by this plugin (one holding a module of ``clip4str_plugin``: :func:`is_plugin_model`) once
:func:`install_fit_check` ran (``load_from``, ``resume``, ``tools/test.py``, inferencer weights,
``init_cfg=Pretrained``). Other models in the process (an MMOCR detector next to our recognizer)
are loaded by MMEngine's ``load_state_dict`` unchanged: partial coverage and resized heads give
MMEngine's warning, as without the plugin.

* **coverage**: the checkpoint's keys must cover at least :data:`MIN_COVERAGE` (half) of the
  model's tensors (parameters and persistent buffers). A detector's checkpoint given to a
  recognizer, or a file of unrelated tensors, covers next to nothing. Intended partial starts
  have their own path: a PARSeq decoder's ``pretrained=dict(checkpoint=..., prefix=...)``
  (DPTR decoder transfer), which reports what it loaded.
* **shapes**: every shared key must have the model's shape; all differing tensors are counted.
* **values**: a tensor that goes where the model has a floating-point parameter or buffer must
  be a floating-point tensor with finite values (:func:`value_problems`); a NaN, integer or numpy
  value would be copied in silently (or cast) and evaluate as garbage. Integer buffers
  (``num_batches_tracked``, position ids) are not checked.

:func:`check_checkpoint_shapes` is the same shape and value check for one module, called from the
plugin modules' ``_load_from_state_dict`` for loads that do not go through MMEngine.
"""
import collections
import weakref
from typing import Iterable, List, Mapping, Optional

import numpy as np
import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import checkpoint as mmengine_checkpoint
from torch import nn

from .errors import CheckpointError, CheckpointMismatchError

#: A checkpoint must hold at least this fraction of the model's tensors to be loaded into it.
MIN_COVERAGE = 0.5
_MMENGINE_LOAD_STATE_DICT = mmengine_checkpoint.load_state_dict
_SOURCES: collections.deque = collections.deque(maxlen=8)   # (weakref to a tensor, file)


class CheckpointValueError(CheckpointError):
    """Tensors that would load into floating-point weights are not finite floating-point
    numbers: NaN or infinite values, an integer dtype, or not a tensor at all."""


def listing(keys: Iterable[str], limit: int = 8) -> str:
    """``'a, b, c ... (+N more)'``: the first ``limit`` of the sorted keys."""
    keys = sorted(keys)
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def _first_tensor(state_dict) -> Optional[torch.Tensor]:
    """The first tensor (or numpy array, which a damaged file may hold) of ``state_dict``."""
    return next((v for v in state_dict.values() if isinstance(v, (torch.Tensor, np.ndarray))),
                None)


def remember_source(checkpoint: Mapping, path: str) -> None:
    """Note that ``checkpoint``'s tensors come from ``path``, for the errors below (MMEngine
    hands the model a re-keyed copy of the state dict; the tensors stay the same objects)."""
    state = checkpoint.get('state_dict', checkpoint)
    tensor = _first_tensor(state) if isinstance(state, Mapping) else None
    if tensor is not None:
        _SOURCES.append((weakref.ref(tensor), path))


def _source_of(state_dict: Mapping) -> str:
    tensor = _first_tensor(state_dict)
    return next((path for ref, path in reversed(_SOURCES) if tensor is not None
                 and ref() is tensor), 'the checkpoint')


def _mismatches(own: Mapping[str, torch.Tensor], state_dict: Mapping, prefix: str) -> List[str]:
    return [f'{prefix + k} {tuple(state_dict[prefix + k].shape)} vs config {tuple(v.shape)}'
            for k, v in own.items() if isinstance(state_dict.get(prefix + k), torch.Tensor)
            and state_dict[prefix + k].shape != v.shape]


def _mismatch_error(source: str, mismatched: List[str]) -> CheckpointMismatchError:
    return CheckpointMismatchError(
        f'{source} does not match the model built from the config ({len(mismatched)} tensors '
        f'differ, e.g. {listing(mismatched, 3)}): use the config the checkpoint belongs to '
        '(tools/convert_clip4str_ckpt.py records it in meta)')


def value_problems(own: Mapping[str, torch.Tensor], state_dict: Mapping,
                   prefix: str = '') -> List[str]:
    """``'key: why'`` for each ``state_dict[prefix + name]`` that would load into a
    floating-point tensor ``own[name]`` but is not a tensor, not floating-point, or holds NaN
    or infinite values."""
    problems = []
    for name, target in own.items():
        value = state_dict.get(prefix + name)
        if value is None or not (isinstance(target, torch.Tensor) and target.is_floating_point()):
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


def check_checkpoint_shapes(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                            prefix: str) -> None:
    """Raise :class:`CheckpointMismatchError` when a checkpoint's tensors for ``module`` (keys
    ``prefix + name``) have other shapes than the module built from the config, instead of
    torch's per-tensor "size mismatch" that MMEngine's non-strict loading would skip past."""
    mismatched = _mismatches(module.state_dict(), state_dict, prefix)
    if mismatched:
        raise _mismatch_error(_source_of(state_dict), mismatched)
    problems = value_problems(module.state_dict(), state_dict, prefix)
    if problems:
        raise value_error(_source_of(state_dict), problems)


def check_checkpoint_fits(model: nn.Module, state_dict: Mapping,
                          source: Optional[str] = None) -> None:
    """Raise :class:`CheckpointMismatchError` (one line, with counts) when ``state_dict``
    covers less than :data:`MIN_COVERAGE` of ``model``'s tensors or when any of its tensors has
    another shape than the model's; and
    :class:`CheckpointValueError` for values that are not finite floats
    (:func:`value_problems`)."""
    own = {k: v for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    source = source or _source_of(state_dict)
    covered = sum(k in state_dict for k in own)
    if own and covered < MIN_COVERAGE * len(own):
        unexpected = [k for k in state_dict if k not in own]
        raise CheckpointMismatchError(
            f'{source} covers {covered} of {len(own)} tensors of {type(model).__name__} '
            f'({len(unexpected)} unexpected keys, e.g. {listing(unexpected, 3)}): wrong model '
            "or layout; give a checkpoint of this config's model (an official CLIP4STR file: "
            'convert it with tools/convert_clip4str_ckpt.py)')
    mismatched = _mismatches(own, state_dict, '')
    if mismatched:
        raise _mismatch_error(source, mismatched)
    problems = value_problems(own, state_dict)
    if problems:
        raise value_error(source, problems)


def is_plugin_model(model: nn.Module) -> bool:
    """True when ``model`` holds a module defined in ``clip4str_plugin`` (a model built from one
    of this plugin's configs); an MMOCR detector, or any other model, is not."""
    return any(type(m).__module__.startswith('clip4str_plugin.') for m in model.modules())


def load_state_dict_checked(module: nn.Module, state_dict, strict: bool = False, logger=None):
    """MMEngine's ``load_state_dict``, after :func:`check_checkpoint_fits` for a model of this
    plugin; any other model is loaded by MMEngine alone."""
    model = module.module if is_model_wrapper(module) else module
    if is_plugin_model(model):
        check_checkpoint_fits(model, state_dict)
    return _MMENGINE_LOAD_STATE_DICT(module, state_dict, strict, logger)


def install_fit_check() -> None:
    """Check every checkpoint MMEngine loads into a model of this plugin (idempotent). MMEngine
    resolves ``load_state_dict`` in its checkpoint module at each load
    (``_load_checkpoint_to_model``, used by the Runner, the inferencers and ``PretrainedInit``):
    that name is replaced by :func:`load_state_dict_checked`, which hands every other model to
    MMEngine's own function untouched."""
    mmengine_checkpoint.load_state_dict = load_state_dict_checked
