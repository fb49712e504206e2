"""The PARSeq network's layer: multi-head attention whose key/value projections are computed
once and reused, and the pre-LN two-stream layer built of it.

A PARSeq decoder attends to the same memory from every permutation and every decode step, so
keys/values are projected once (:meth:`CachedMultiheadAttention.project_kv`). Permutations run
as G groups stacked group-major along the batch, ``(G*B, ...)``; when the memory is shared by the
groups, :func:`fold` lays them side by side along the sequence instead of copying the memory.
Masks are boolean, ``True`` = may not attend.
"""
import math
from typing import NamedTuple, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ...compute.kernels import attention

#: Keys and values ``(N, heads, S, D / heads)``.
KV = Tuple[torch.Tensor, torch.Tensor]


class SplitMemory(NamedTuple):
    """A memory whose first tokens are shared by G groups: ``shared (B, S1, D)`` then
    ``per_group (G*B, S2, D)``; equivalent to ``cat([shared.repeat(G, 1, 1), per_group], 1)``
    but the shared keys/values are projected and stored once (CLIP4STR's cross branch in
    training: the image tokens are the same for every permutation, the caption is not)."""
    shared: torch.Tensor
    per_group: torch.Tensor


class SplitKV(NamedTuple):
    """Keys/values of a :class:`SplitMemory`: ``shared`` of batch B, ``per_group`` of G*B."""
    shared: KV
    per_group: KV


Memory = Union[torch.Tensor, SplitMemory]


def fold(x: torch.Tensor, groups: int) -> torch.Tensor:
    """``(G*B, *mid, L, X) -> (B, *mid, G*L, X)``: the groups side by side along the sequence."""
    gb, *mid, length, last = x.shape
    x = x.reshape(groups, gb // groups, *mid, length, last).movedim(0, -3)
    return x.reshape(gb // groups, *mid, groups * length, last)


def unfold(x: torch.Tensor, groups: int) -> torch.Tensor:
    """``(B, *mid, G*L, X) -> (G*B, *mid, L, X)``, the inverse of :func:`fold`."""
    batch, *mid, length, last = x.shape
    x = x.reshape(batch, *mid, groups, length // groups, last).movedim(-3, 0)
    return x.reshape(groups * batch, *mid, length // groups, last)


def group_mask(mask: Optional[torch.Tensor], padding_mask: Optional[torch.Tensor],
               batch: int) -> Optional[torch.Tensor]:
    """Per-group ``mask (G, L, T)`` and/or ``padding_mask (B, T)`` -> what may not attend,
    ``(G*B, 1, L, T)`` group-major (``(B, 1, 1, T)`` for padding only; None for neither)."""
    if mask is None:
        return None if padding_mask is None else padding_mask[:, None, None, :]
    blocked = mask[:, None, None]                                 # (G, 1, 1, L, T)
    if padding_mask is not None:
        blocked = blocked | padding_mask[None, :, None, None, :]  # (G, B, 1, L, T)
    return blocked.expand(-1, batch, -1, -1, -1).reshape(-1, 1, *mask.shape[1:])


class CachedMultiheadAttention(nn.Module):
    """Multi-head attention with reusable key/value projections.

    Parameters are those of :class:`torch.nn.MultiheadAttention` (``in_proj_weight``,
    ``in_proj_bias``, ``out_proj``) with the same initialisation.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by {num_heads} heads')
        self.num_heads, self.dropout = num_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        return x.view(n, length, self.num_heads, dim // self.num_heads).transpose(1, 2)

    def project_kv(self, x: torch.Tensor) -> KV:
        """``(N, S, D)`` -> keys and values ``(N, heads, S, D / heads)``."""
        dim = x.shape[-1]
        k, v = F.linear(x, self.in_proj_weight[dim:], self.in_proj_bias[dim:]).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)

    def _query(self, x: torch.Tensor) -> torch.Tensor:
        dim = x.shape[-1]
        return self._heads(F.linear(x, self.in_proj_weight[:dim], self.in_proj_bias[:dim]))

    def _merge(self, out: torch.Tensor) -> torch.Tensor:
        n, _, length, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(n, length, -1))

    #: Set by :func:`clip4str_plugin.visualization.attention_maps.recording`: called with
    #: ``(q, keys, blocked)`` after each :meth:`forward` (the fused path is unchanged; None:
    #: nothing is recorded).
    recorder = None

    def forward(self, x: torch.Tensor, kv: KV, blocked: Optional[torch.Tensor] = None):
        """``x (N, L, D)`` attends to ``kv``; ``blocked`` broadcasts to ``(N, heads, L, S)``."""
        q = self._query(x)
        out = attention(
            q, kv[0], kv[1], attn_mask=None if blocked is None else ~blocked,
            dropout_p=self.dropout if self.training else 0.0)
        if self.recorder is not None:
            self.recorder(q, kv[0], blocked)
        return self._merge(out)

    def attend_split(self, x: torch.Tensor, kv: SplitKV, groups: int) -> torch.Tensor:
        """``x (G*B, L, D)`` attends to shared keys ``(B, ...)`` and per-group keys
        ``(G*B, ...)`` under one softmax, without copying the shared ones G times."""
        q = self._query(x)
        scale = q.shape[-1] ** -0.5
        (k1, v1), (k2, v2) = kv
        shared = unfold(fold(q, groups) @ k1.transpose(-1, -2), groups)
        attn = torch.cat([shared, q @ k2.transpose(-1, -2)], dim=-1).mul_(scale).softmax(-1)
        attn = F.dropout(attn, self.dropout, self.training)
        p1, p2 = attn.split([k1.shape[2], k2.shape[2]], dim=-1)
        return self._merge(unfold(fold(p1, groups) @ v1, groups) + p2 @ v2)


class TwoStreamDecoderLayer(nn.Module):
    """One pre-LN layer: self-attention to the content, cross-attention to memory, GELU MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, dropout: float = 0.1):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.self_attn = CachedMultiheadAttention(dim, num_heads, dropout)
        self.cross_attn = CachedMultiheadAttention(dim, num_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.norm_q, self.norm_c = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))

    def stream(self, x: torch.Tensor, x_norm: torch.Tensor, content_kv: KV,
               blocked: Optional[torch.Tensor], memory_kv: Union[KV, SplitKV],
               groups: int = 1) -> torch.Tensor:
        """Update one stream ``x (G*B, L, D)`` (G groups, group-major).

        ``content_kv`` and ``blocked`` (broadcast to ``(G*B, 1, L, T)``) are per group. Memory
        keys/values of batch B are shared by the groups, which are then folded along the sequence
        for the cross-attention instead of copying the memory G times; batch G*B means one memory
        per group.
        """
        x = x + self.dropout1(self.self_attn(x_norm, content_kv, blocked))
        x_norm = self.norm1(x)
        if isinstance(memory_kv, SplitKV):
            crossed = self.cross_attn.attend_split(x_norm, memory_kv, groups)
        elif memory_kv[0].shape[0] == x.shape[0]:
            crossed = self.cross_attn(x_norm, memory_kv)
        else:
            crossed = unfold(self.cross_attn(fold(x_norm, groups), memory_kv), groups)
        x = x + self.dropout2(crossed)
        hidden = self.dropout(F.gelu(self.linear1(self.norm2(x))))
        return x + self.dropout3(self.linear2(hidden))


class TokenEmbedding(nn.Module):
    """Token embedding scaled by sqrt(D) (key ``text_embed.embedding.weight``)."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.scale = math.sqrt(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens) * self.scale
