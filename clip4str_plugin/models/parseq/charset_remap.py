"""Carry a recognizer's weights to another dictionary, for fine-tuning on another charset.

Only the PARSeq networks' per-token tensors depend on the dictionary: the classifier
(``*.head.weight (C+1, D)``, ``*.head.bias (C+1,)``: [E] and the C characters) and the token
embedding (``*.text_embed.embedding.weight (C+3, D)``: [E], characters, [B], [P]). Their rows
are mapped by token: a token of both dictionaries keeps its trained row, a new token gets the row
of a freshly initialised model of the new dictionary (trunc-normal(.02) weights, zero bias, as
the network initialises itself), tokens of the old dictionary only are dropped. Every other
tensor is returned unchanged.
"""
from typing import Dict, List, Sequence, Tuple

import torch

from ...weights.errors import CheckpointError

#: Per-token tensors (key suffixes) and how many of the dictionary's trailing special tokens
#: ([B], [P]) each leaves out.
TOKEN_ROWS = {'head.weight': 2, 'head.bias': 2, 'text_embed.embedding.weight': 0}


class CharsetRemapError(CheckpointError):
    """Weights whose per-token rows do not match the dictionary they are said to use."""


def token_row_keys(state: Dict[str, torch.Tensor]) -> List[str]:
    """The keys of ``state`` whose rows are the dictionary's tokens."""
    return sorted(k for k in state if any(k.endswith('.' + s) for s in TOKEN_ROWS))


def _tokens_of(key: str, tokens: Sequence[str]) -> Sequence[str]:
    skip = next(n for s, n in TOKEN_ROWS.items() if key.endswith('.' + s))
    return tokens[:len(tokens) - skip]


def remap_charset(state: Dict[str, torch.Tensor], old_tokens: Sequence[str],
                  new_tokens: Sequence[str], fresh: Dict[str, torch.Tensor]
                  ) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]]]:
    """``state`` (weights for the dictionary ``old_tokens``: ``Dictionary.dict``, [E] first,
    [B], [P] last) with its per-token rows laid out for ``new_tokens``; rows of new tokens come
    from ``fresh`` (the state dict of a new model of the new dictionary).

    Returns ``(state, report)``; ``report``: ``kept`` (characters of both), ``new`` and
    ``dropped`` (characters of one dictionary only), each in its dictionary's order.
    """
    keys = token_row_keys(state)
    if not keys:
        raise CharsetRemapError('no classifier or token-embedding tensors (*.head.weight, '
                                '*.text_embed.embedding.weight) to remap')
    out = dict(state)
    for key in keys:
        old, new = _tokens_of(key, old_tokens), _tokens_of(key, new_tokens)
        rows = state[key]
        if rows.shape[0] != len(old):
            raise CharsetRemapError(
                f'{key} has {rows.shape[0]} rows, the source dictionary {len(old)} tokens '
                f'({"".join(old_tokens[1:-2][:10])}...): give the dictionary it was trained with')
        if key not in fresh or tuple(fresh[key].shape) != (len(new), *rows.shape[1:]):
            raise CharsetRemapError(f'{key}: the new model has no tensor of shape '
                                    f'{(len(new), *rows.shape[1:])}')
        index = {token: i for i, token in enumerate(old)}
        mapped = fresh[key].detach().clone().to(rows.dtype)
        for i, token in enumerate(new):
            if token in index:
                mapped[i] = rows[index[token]]
        out[key] = mapped
    specials = {old_tokens[0], *old_tokens[-2:], new_tokens[0], *new_tokens[-2:]}
    old_chars = [t for t in old_tokens if t not in specials]
    new_chars = [t for t in new_tokens if t not in specials]
    report = dict(kept=[c for c in new_chars if c in set(old_chars)],
                  new=[c for c in new_chars if c not in set(old_chars)],
                  dropped=[c for c in old_chars if c not in set(new_chars)])
    return out, report


def describe(report: Dict[str, List[str]]) -> str:
    """One line: how many characters were kept, added and dropped, with examples."""
    def some(chars):
        return ''.join(chars[:12]) + ('...' if len(chars) > 12 else '')
    return (f'charset remapped: rows kept for {len(report["kept"])} characters of both '
            f'({some(report["kept"])}), {len(report["new"])} new rows initialised '
            f'({some(report["new"])}), {len(report["dropped"])} rows dropped '
            f'({some(report["dropped"])})')


def remap_for_model(state: Dict[str, torch.Tensor], old_dictionary: dict, model_cfg: dict,
                    seed: int = 0) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]]]:
    """:func:`remap_charset` from the dictionary config ``old_dictionary`` to the dictionary of
    the model ``model_cfg`` (built once, seeded, for its initial rows)."""
    from mmocr.registry import MODELS, TASK_UTILS
    old = TASK_UTILS.build(old_dictionary).dict
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    keys = set(token_row_keys(state))
    fresh = {k: v for k, v in model.state_dict().items() if k in keys}
    return remap_charset(state, old, model.decoder.dictionary.dict, fresh)
