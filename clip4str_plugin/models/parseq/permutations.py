"""Permutation language modelling (PARSeq / CLIP4STR): the K orders and their attention masks.

A permutation orders the positions ``0 .. T+1`` of [BOS] c_1 .. c_T [EOS]; BOS stays first and EOS
last. Masks are boolean, ``True`` meaning *may not attend*.
"""
import itertools
import math
from typing import Optional, Tuple

import numpy as np
import torch


def mirror_pool(num_chars: int) -> torch.Tensor:
    """All orders of ``num_chars`` positions, one per mirror pair, without the identity.

    Each pair {p, reversed p} is represented by its lexicographically smaller member, so the
    identity (paired with the plain reverse) never appears; the pool has n!/2 - 1 rows.
    """
    pool = [p for p in itertools.permutations(range(num_chars)) if p < p[::-1]]
    return torch.tensor(pool[1:], dtype=torch.long).reshape(-1, num_chars)


def generate_permutations(num_chars: int, num_perms: int = 6, rng: Optional[np.random.Generator]
                          = None, device=None, pad_to: Optional[int] = None) -> torch.Tensor:
    """Return ``(K, num_chars + 2)`` position orders, K <= ``num_perms`` (even).

    Order as the reference (forward, mirrored): the canonical order, its reverse with the EOS
    position first ("null context" for EOS), then random orders each followed by its mirror.
    ``num_chars`` is the longest label of the batch; short labels draw from the exhaustive pool
    (PARSeq, CLIP4STR). ``pad_to`` (OpenOCR's DPTR, which pads every label to 25): the orders
    are drawn over ``pad_to`` characters and cut to the batch's positions (:func:`cut_orders`),
    so K = ``num_perms`` whatever the batch's longest label.
    """
    if num_perms < 2 or num_perms % 2:
        raise ValueError(f'num_perms must be even and >= 2, got {num_perms}')
    if pad_to is not None:
        if pad_to < num_chars:
            raise ValueError(f'a label of {num_chars} characters is longer than pad_to={pad_to}')
        return cut_orders(generate_permutations(pad_to, num_perms, rng, device), num_chars)
    rng = rng if rng is not None else np.random.default_rng()
    if num_chars == 1:
        return torch.arange(3, device=device).unsqueeze(0)
    max_pairs = min(num_perms // 2, math.factorial(num_chars) // 2)
    perms = [torch.arange(num_chars)]
    if num_chars < 5:
        pool = mirror_pool(num_chars)
        picks = rng.choice(len(pool), size=min(max_pairs - 1, len(pool)), replace=False)
        perms.extend(pool[torch.as_tensor(picks, dtype=torch.long)])
    else:
        perms.extend(torch.as_tensor(rng.permutation(num_chars)) for _ in range(max_pairs - 1))
    perms = torch.stack(perms)
    perms = torch.stack([perms, perms.flip(-1)], dim=1).reshape(-1, num_chars)
    bos = perms.new_zeros(len(perms), 1)
    eos = perms.new_full((len(perms), 1), num_chars + 1)
    perms = torch.cat([bos, perms + 1, eos], dim=1)
    # The reverse order visits EOS right after BOS, so EOS is predicted from no context.
    perms[1, 1:] = torch.arange(num_chars + 1, 0, -1)
    return perms.to(device)


def cut_orders(perms: torch.Tensor, num_chars: int) -> torch.Tensor:
    """``(K, P + 2)`` orders of a padded label -> ``(K, num_chars + 2)``: the positions
    ``0 .. num_chars + 1`` in the order each row visits them. Their :func:`permutation_masks`
    equal the padded orders' masks on those positions, where the padding mask hides the rest."""
    keep = perms <= num_chars + 1
    return perms[keep].reshape(len(perms), num_chars + 2)


def permutation_masks(perms: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Content and query masks for each order.

    Args:
        perms: ``(K, T + 2)`` orders of the positions [BOS, c_1 .. c_T, EOS].

    Returns:
        content_mask ``(K, T + 1, T + 1)``: content position i may not see positions visited
        after it. query_mask ``(K, T + 1, T + 1)``: query i (predicting position i + 1) may not
        see content visited after or at position i + 1.
    """
    num_perms, size = perms.shape
    rank = torch.empty_like(perms)
    rank.scatter_(1, perms, torch.arange(size, device=perms.device).expand(num_perms, -1))
    later = rank.unsqueeze(1) > rank.unsqueeze(2)       # [k, q, key]: key visited after q
    content_mask = later[:, :-1, :-1]
    eye = torch.eye(size, dtype=torch.bool, device=perms.device)
    query_mask = (later | eye)[:, 1:, :-1]
    return content_mask, query_mask


def causal_mask(length: int, device=None) -> torch.Tensor:
    """``(length, length)``: position i may not see positions after i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)

