"""The PARSeq two-stream network (a plain ``nn.Module``) that CLIP4STR uses twice and DPTR
pre-trains; the MMOCR decoders around it are in :mod:`.plm_decoder`.

Pre-LN layers with a query stream (position queries) and a content stream ([B] + token
embeddings), XLNet style. State-dict keys follow the reference (``layers.i.self_attn.*``,
``cross_attn``, ``linear1/2``, ``norm1/2``, ``norm_q``, ``norm_c``, ``text_embed.embedding``,
``pos_queries``, ``norm``, ``head``), so official weights map by prefix only.

Speed: keys/values of the memory are projected once per call and shared by every permutation and
decode step; an AR step (:meth:`PARSeqNetwork.step`) also caches the content keys/values. The
test-time loops (:func:`first_pass`, :func:`cloze_refine`) drive any object with ``step`` /
``read_all``: the network here, its exported graphs in deployment. Masks are boolean, ``True``
= may not attend.
"""
from typing import List, Optional, Union

import torch
from torch import nn

from ..load_checks import check_fit_on_load
from .attention import (KV, Memory, SplitKV, SplitMemory, TokenEmbedding,
                        TwoStreamDecoderLayer, group_mask)


class PARSeqNetwork(nn.Module):
    """Two-stream layers + head; teacher-forced, autoregressive, one-shot and cloze decoding.

    Args:
        num_classes: head outputs (EOS + characters; 95 for the 94-character set).
        vocab_size: token embedding rows (EOS, characters, BOS, PAD; 97).
        bos_id, eos_id: token ids of [B] and [E].
        embed_dim, depth, num_heads, mlp_ratio, dropout: geometry (CLIP4STR: D, 1, 8, 4, 0.1).
        max_length: position queries (max label length + 1 for EOS; 26).
    """

    def __init__(self, num_classes: int, vocab_size: int, bos_id: int, eos_id: int,
                 embed_dim: int, depth: int = 1, num_heads: int = 8, mlp_ratio: float = 4.0,
                 dropout: float = 0.1, max_length: int = 26):
        super().__init__()
        check_fit_on_load(self)
        self.bos_id, self.eos_id = bos_id, eos_id
        self.layers = nn.ModuleList(
            TwoStreamDecoderLayer(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(depth))
        self.text_embed = TokenEmbedding(vocab_size, embed_dim)
        self.pos_queries = nn.Parameter(torch.empty(1, max_length, embed_dim))
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        self.dropout = nn.Dropout(dropout)
        self._init_weights()

    @property
    def max_length(self) -> int:
        return self.pos_queries.shape[1]

    def _init_weights(self) -> None:
        """Reference init: trunc-normal(.02) Linear/Embedding weights, zero biases."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.trunc_normal_(module.weight, std=.02)
        nn.init.trunc_normal_(self.pos_queries, std=.02)

    def memory_kv(self, memory: Memory) -> List[Union[KV, SplitKV]]:
        """Project ``memory (B, S, D)`` (or a :class:`SplitMemory`) for every layer once."""
        if isinstance(memory, SplitMemory):
            return [SplitKV(layer.cross_attn.project_kv(memory.shared),
                            layer.cross_attn.project_kv(memory.per_group))
                    for layer in self.layers]
        return [layer.cross_attn.project_kv(memory) for layer in self.layers]

    def embed_content(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Tokens ``(B, T)`` at content positions ``start ..`` -> ``(B, T, D)``.

        Position 0 is [B] without a position embedding; position j > 0 adds ``pos_queries[j-1]``.
        """
        embedded = self.text_embed(tokens)
        positions = self.pos_queries[:, max(start - 1, 0):start + tokens.shape[1] - 1]
        if start == 0:
            embedded = torch.cat([embedded[:, :1], positions + embedded[:, 1:]], dim=1)
        else:
            embedded = positions + embedded
        return self.dropout(embedded)

    def run_layers(self, query: torch.Tensor, content: torch.Tensor,
                   memory_kv: List[Union[KV, SplitKV]],
                   query_blocked: Optional[torch.Tensor] = None,
                   content_blocked: Optional[torch.Tensor] = None,
                   cache: Optional[List[Optional[KV]]] = None, groups: int = 1) -> torch.Tensor:
        """Both streams through every layer; logits ``(G*B, Lq, num_classes)`` of the queries.

        ``query (G*B, Lq, D)``, ``content (G*B, T, D)``; ``memory_kv`` from :meth:`memory_kv`;
        masks as :meth:`TwoStreamDecoderLayer.stream`. With ``cache`` (one entry per layer,
        updated in place), ``content`` is only the newest token and attends to the cached ones.
        """
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            content_norm = layer.norm_c(content)
            content_kv = layer.self_attn.project_kv(content_norm)
            if cache is not None:
                # Decoding left to right, a content position attends only to itself and earlier
                # ones, so a layer's input at an earlier position is the same at every later
                # step. The cache keeps its keys/values, projected from the normalised content
                # (all that attention reads of it): each step normalises and projects one token.
                if cache[i] is not None:
                    content_kv = tuple(torch.cat([old, new], dim=2)
                                       for old, new in zip(cache[i], content_kv))
                cache[i] = content_kv
            # Both streams read the content as it enters this layer (XLNet's two-stream
            # attention, which the reference's weights expect), so the query goes first,
            # before the content is overwritten by its own update.
            next_query = layer.stream(query, layer.norm_q(query), content_kv, query_blocked,
                                      memory_kv[i], groups)
            # Only the next layer reads the content; after the last one nobody does (with
            # depth 1, the reference's, the content stream and its mask are never used).
            if i < last:
                content = layer.stream(content, content_norm, content_kv, content_blocked,
                                       memory_kv[i], groups)
            query = next_query
        return self.head(self.norm(query))

    def forward(self, tokens: torch.Tensor, memory: Memory,
                query_mask: Optional[torch.Tensor] = None,
                content_mask: Optional[torch.Tensor] = None,
                padding_mask: Optional[torch.Tensor] = None,
                num_queries: Optional[int] = None,
                memory_kv: Optional[List[Union[KV, SplitKV]]] = None) -> torch.Tensor:
        """Decode every query at once (training, refinement, one-shot).

        Args:
            tokens: ``(B, T)`` content [B], t_1, .., t_{T-1}.
            memory: ``(B, S, D)`` shared by the groups, ``(G*B, S, D)`` one per group, or a
                :class:`SplitMemory`.
            query_mask: ``(G, Lq, T)``, one mask per group (permutation), or None (G = 1).
            content_mask: ``(G, T, T)``; only read when depth > 1.
            padding_mask: ``(B, T)`` content positions nobody may see.
            num_queries: Lq when ``query_mask`` is None (default: all position queries).
            memory_kv: :meth:`memory_kv` of ``memory`` when known (``memory`` is not read).

        Returns:
            logits ``(G, B, Lq, num_classes)``.
        """
        batch = tokens.shape[0]
        groups = 1 if query_mask is None else query_mask.shape[0]
        num_q = query_mask.shape[1] if query_mask is not None else (num_queries or
                                                                     self.max_length)
        query = self.dropout(self.pos_queries[:, :num_q].expand(groups * batch, -1, -1))
        content = self.embed_content(tokens.repeat(groups, 1))
        if memory_kv is None:
            memory_kv = self.memory_kv(memory)
        logits = self.run_layers(query, content, memory_kv,
                                 group_mask(query_mask, padding_mask, batch),
                                 group_mask(content_mask, padding_mask, batch),
                                 groups=groups)
        return logits.view(groups, batch, num_q, -1)

    def step(self, token: torch.Tensor, position: int, memory_kv: List[KV],
             cache: Optional[List[KV]] = None):
        """AR step ``position``: ``token (B, 1)`` at content position ``position`` and position
        query ``position`` -> (logits ``(B, 1, C)``, ``cache``: the content keys/values of every
        layer, one step longer; None at step 0)."""
        cache = [None] * len(self.layers) if cache is None else cache
        query = self.dropout(self.pos_queries[:, position:position + 1]
                             .expand(token.shape[0], -1, -1))
        content = self.embed_content(token, position)
        return self.run_layers(query, content, memory_kv, cache=cache), cache

    def read_all(self, tokens: torch.Tensor, memory_kv: List[KV],
                 query_mask: Optional[torch.Tensor] = None,
                 content_mask: Optional[torch.Tensor] = None,
                 padding: Optional[torch.Tensor] = None,
                 num_queries: Optional[int] = None) -> torch.Tensor:
        """Every query at once on projected memory: masks ``(Lq, T)``, ``(T, T)``, ``(B, T)``
        as :meth:`forward`'s, one group -> logits ``(B, Lq, C)``."""
        return self(tokens, None, None if query_mask is None else query_mask[None],
                    None if content_mask is None else content_mask[None], padding,
                    num_queries, memory_kv=memory_kv)[0]

    def decode_ar(self, memory: torch.Tensor, num_steps: Optional[int] = None,
                  early_stop: bool = True, memory_kv: Optional[List[KV]] = None) -> torch.Tensor:
        """:func:`greedy_ar` on ``memory (B, S, D)`` (or its known keys/values ``memory_kv``)."""
        memory_kv = self.memory_kv(memory) if memory_kv is None else memory_kv
        return greedy_ar(self, memory_kv, memory.shape[0], num_steps, early_stop, memory.device)

    def refine(self, memory: Memory, logits: torch.Tensor,
               memory_kv: Optional[List[Union[KV, SplitKV]]] = None) -> torch.Tensor:
        """:func:`cloze_refine` on ``memory``."""
        return cloze_refine(self, self.memory_kv(memory) if memory_kv is None else memory_kv,
                            logits)


# The test-time loops, written once against a network's ``step`` / ``read_all`` (both
# implemented by PARSeqNetwork and by its exported graphs, deploy.runner.GraphBranch).
def greedy_ar(net, memory_kv, batch: int, num_steps: Optional[int] = None,
              early_stop: bool = True, device=None) -> torch.Tensor:
    """Greedy autoregressive decoding -> logits ``(B, L, C)``, L <= ``num_steps`` (default
    ``max_length``). Step i reads the argmax of step i - 1; ``net.step`` caches the content's
    keys/values, so a step costs one token, and gives the logits of :meth:`~PARSeqNetwork.forward`
    on the whole prefix under causal masks."""
    token = torch.full((batch, 1), net.bos_id, dtype=torch.long, device=device)
    ended = torch.zeros(batch, dtype=torch.bool, device=device)
    cache, logits = None, []
    for position in range(num_steps or net.max_length):
        step_logits, cache = net.step(token, position, memory_kv, cache)
        logits.append(step_logits)
        token = step_logits.argmax(-1)
        ended |= token[:, 0] == net.eos_id
        # Every reader cuts the text at its first [E] (postprocessor, captions, refinement's
        # padding), so once each sample has one, further steps could not change any text.
        if early_stop and bool(ended.all()):
            break
    return torch.cat(logits, dim=1)


def first_pass(net, memory_kv, batch: int, num_steps: Optional[int] = None,
               autoregressive: bool = True, device=None) -> torch.Tensor:
    """The reading before refinement, logits ``(B, L, C)``: :func:`greedy_ar` (stopping once
    every sample has emitted [E]) or :func:`one_shot` (every query at once)."""
    if autoregressive:
        return greedy_ar(net, memory_kv, batch, num_steps, device=device)
    return one_shot(net, memory_kv, batch, num_steps, device=device)


def one_shot(net, memory_kv, batch: int, num_steps: Optional[int] = None,
             device=None) -> torch.Tensor:
    """Every position query sees only [B] -> logits ``(B, num_steps or max_length, C)``."""
    bos = torch.full((batch, 1), net.bos_id, dtype=torch.long, device=device)
    return net.read_all(bos, memory_kv, num_queries=num_steps or net.max_length)


def cloze_mask(num_queries: int, length: int, device=None) -> torch.Tensor:
    """``(num_queries, length)``: query i sees every content position except i + 1 (itself)."""
    return torch.ones(num_queries, length, dtype=torch.bool, device=device).triu(1) & \
        ~torch.ones(num_queries, length, dtype=torch.bool, device=device).triu(2)


def cloze_refine(net, memory_kv, logits: torch.Tensor) -> torch.Tensor:
    """One cloze refinement of ``logits (B, L, C)`` -> ``(B, max_length, C)``.

    Context: [B] + the argmax of ``logits`` minus its last step, hidden from the first [E] on.
    Query i sees every context position but its own (i + 1). As in the reference, whose content
    and query masks are one aliased tensor, the content stream (depth > 1) uses the same mask.
    """
    bos = torch.full((logits.shape[0], 1), net.bos_id, dtype=torch.long, device=logits.device)
    tokens = torch.cat([bos, logits[:, :-1].argmax(-1)], dim=1)
    padding = (tokens == net.eos_id).cumsum(-1) > 0
    length = tokens.shape[1]
    return net.read_all(tokens, memory_kv, cloze_mask(net.max_length, length, tokens.device),
                        cloze_mask(length, length, tokens.device), padding)
