"""Clear errors when a checkpoint does not fit the model built from a config."""
from typing import Iterable, Mapping

import torch
from torch import nn


class CheckpointMismatchError(ValueError):
    """A model checkpoint's tensors have other shapes than the model built from the config."""


def listing(keys: Iterable[str], limit: int = 8) -> str:
    """``'a, b, c ... (+N more)'``: the first ``limit`` of the sorted keys."""
    keys = sorted(keys)
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def check_checkpoint_shapes(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                            prefix: str) -> None:
    """Raise a clear error when a checkpoint's tensors for ``module`` (keys ``prefix + name``)
    have other shapes than the module built from the config, instead of torch's per-tensor
    "size mismatch" warnings that MMEngine's non-strict loading would skip past."""
    mismatched = [f'{prefix + k} {tuple(state_dict[prefix + k].shape)} vs config {tuple(v.shape)}'
                  for k, v in module.state_dict().items()
                  if prefix + k in state_dict and state_dict[prefix + k].shape != v.shape]
    if mismatched:
        raise CheckpointMismatchError(
            f'the checkpoint does not match the model built from the config ({len(mismatched)} '
            f'tensors differ, e.g. {listing(mismatched, 3)}): use the config the checkpoint '
            'belongs to (tools/convert_clip4str_ckpt.py records it in meta)')
