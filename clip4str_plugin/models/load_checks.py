"""Does a checkpoint fit the module it loads into? One clear error instead of MMEngine's "do not
match exactly" warning, after which a wrong file would run as garbage.

The plugin's backbones and decoders call :func:`check_fit_on_load` on themselves, so every load
into them (MMEngine's ``load_checkpoint``, ``init_cfg``, inferencer weights, ``load_state_dict``)
first checks their part of the state dict: it must cover :data:`MIN_COVERAGE` of their tensors,
with their shapes, and what goes into a floating-point tensor must be finite floats. A module's
part leaves out the modules nested in it that check their own (a decoder's PARSeq networks and
text tower), so each tensor is checked once. Other models in the process (an MMOCR detector)
load as MMEngine alone loads them.
"""
from typing import Iterable, List, Mapping

import torch
from torch import nn

from ..weights.clip_weights import CLIPWeightsError
from ..weights.errors import CheckpointError, CheckpointMismatchError, CheckpointValueError
from ..weights.loading import source_of

#: A checkpoint must hold at least this fraction of a module's tensors to be loaded into it.
MIN_COVERAGE = 0.5


def listing(keys: Iterable[str], limit: int = 8) -> str:
    """``'a, b, c ... (+N more)'``: the first ``limit`` of the sorted keys."""
    keys = sorted(keys)
    return ', '.join(keys[:limit]) + (f' ... (+{len(keys) - limit} more)'
                                      if len(keys) > limit else '')


def value_problems(own: Mapping[str, torch.Tensor], state_dict: Mapping,
                   prefix: str = '') -> List[str]:
    """``'key: why'`` for each ``state_dict[prefix + name]`` bound for a floating-point
    ``own[name]`` that is not a tensor, not floating-point, or not finite."""
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


#: Set on a module by :func:`check_fit_on_load`: its hook checks its part of every load.
_CHECKS_OWN_FIT = '_checks_own_fit_on_load'


def self_checked_parts(module: nn.Module) -> List[str]:
    """``['name.', ...]``: the modules nested in ``module`` that check their own fit on load."""
    return [name + '.' for name, sub in module.named_modules(remove_duplicate=False)
            if name and getattr(sub, _CHECKS_OWN_FIT, False)]


def check_checkpoint_fits(module: nn.Module, state_dict: Mapping, prefix: str = '',
                          skip: Iterable[str] = ()) -> None:
    """Refuse ``state_dict`` (keys ``prefix + name``) for ``module``'s tensors (those not under
    a name starting with one of ``skip``) in one line: too little coverage or other shapes
    (:class:`CheckpointMismatchError`), values that are not finite floats
    (:class:`CheckpointValueError`)."""
    skip = tuple(skip)
    own = {k: v for k, v in module.state_dict().items()
           if not k.endswith('num_batches_tracked') and not (skip and k.startswith(skip))}
    source = source_of(state_dict)
    where = type(module).__name__ + (f" at '{prefix}'" if prefix else '')
    covered = sum(prefix + k in state_dict for k in own)
    if own and covered < MIN_COVERAGE * len(own):
        unexpected = [k for k in state_dict if k.startswith(prefix) and k[len(prefix):] not in own
                      and not (skip and k[len(prefix):].startswith(skip))]
        raise CheckpointMismatchError(
            f'{source} covers {covered} of {len(own)} tensors of {where} ({len(unexpected)} '
            f'unexpected keys, e.g. {listing(unexpected, 3)}): wrong model or layout; give a '
            "checkpoint of this config's model (an official CLIP4STR file: convert it with "
            'tools/convert_clip4str_ckpt.py)')
    mismatched = _mismatches(own, state_dict, prefix, 'config')
    if mismatched:
        raise CheckpointMismatchError(
            f'{source} does not match the model built from the config ({len(mismatched)} '
            f'tensors differ, e.g. {listing(mismatched, 3)}): use the config the checkpoint '
            'belongs to (tools/convert_clip4str_ckpt.py records it in meta)')
    problems = value_problems(own, state_dict, prefix)
    if problems:
        raise value_error(source, problems)


def _mismatches(own: Mapping[str, torch.Tensor], state: Mapping, prefix: str,
                against: str) -> list:
    """``'<key> <shape> vs <against> <shape>'`` for every tensor of ``state`` (under
    ``prefix``) whose shape is not that of ``own``'s tensor of the same name."""
    return [f'{prefix + k} {tuple(state[prefix + k].shape)} vs {against} {tuple(v.shape)}'
            for k, v in own.items()
            if isinstance(state.get(prefix + k), torch.Tensor)
            and state[prefix + k].shape != v.shape]


def _fit_hook(module, state_dict, prefix, *_) -> None:
    # The nested modules that check themselves run their own hooks after this one.
    check_checkpoint_fits(module, state_dict, prefix, self_checked_parts(module))


def check_fit_on_load(module: nn.Module) -> None:
    """Run :func:`check_checkpoint_fits` on ``module``'s own part (not that of nested modules
    that check themselves) before every ``load_state_dict`` into it or a module holding it."""
    setattr(module, _CHECKS_OWN_FIT, True)
    module.register_load_state_dict_pre_hook(_fit_hook)


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], prefix: str, source: str,
              round_to_fp16: bool = False) -> None:
    """Copy CLIP weights ``state[prefix + name]`` into every tensor ``name`` of ``module``, or
    nothing: :class:`CLIPWeightsError` names ``source`` and the keys missing, of another shape
    or not finite floats."""
    own = module.state_dict()
    missing = [prefix + k for k in own if prefix + k not in state]
    mismatched = _mismatches(own, state, prefix, 'model')
    problems = [f'{title}: {listing(keys, limit)}' for title, keys, limit in (
        ('missing keys', missing, 8), ('shape mismatches', mismatched, 4)) if keys]
    if problems:
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
