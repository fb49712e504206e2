"""The pieces of a CLIP4STR recognizer that become ONNX graphs: its two CLIP towers as they are,
and ``nn.Module`` wrappers around one step of each PARSeq network.

Decoding stays exact because every graph is one stateless step of the PyTorch decode and the
loop around them (argmax, early stop, captions, CLIP's tokenizer, refinement) is the PyTorch
one, :func:`~clip4str_plugin.models.clip4str.decoder.dual_decode`, driving the graphs through
:class:`.runner.GraphSteps`. Tensors cross graph boundaries flattened: a network of
depth L takes and returns its per-layer keys/values as ``k0, v0, k1, v1, ...``, each
``(B, heads, S, D / heads)``.

Graphs (``name``: inputs -> outputs):

* ``image_tower``: ``images (B, 3, H, W)`` normalised -> ``image_tokens (B, S, D)``.
* ``text_tower``: ``caption_ids (N, text_length)`` -> ``text_tokens (N, text_length, D)``.
* ``<branch>_memory``: ``memory (B, S, D)`` -> ``memory_k<i>, memory_v<i>``.
* ``<branch>_first``: ``token (B, 1)`` ([B]), memory keys/values -> ``logits (B, 1, C)``,
  ``cache_k<i>, cache_v<i>`` (B, heads, 1, D / heads): AR step 0.
* ``<branch>_step``: ``token (B, 1)``, ``step ()`` (>= 1), memory keys/values, ``past_k<i>,
  past_v<i>`` (B, heads, step, ..) -> ``logits (B, 1, C)``, ``cache_k<i>, cache_v<i>`` (one
  longer): AR step ``step`` on the cached content.
* ``<branch>_forward``: ``tokens (B, T)``, ``query_mask (Lq, T)``, ``content_mask (T, T)``,
  ``padding (B, T)`` (boolean, True = may not attend), memory keys/values -> ``logits (B, Lq,
  C)``: every query at once (cloze refinement, one-shot decoding).
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from ..models.parseq.network import PARSeqNetwork

BRANCHES = ('visual', 'cross')


def kv_names(prefix: str, depth: int) -> List[str]:
    """``[<prefix>_k0, <prefix>_v0, ...]`` for ``depth`` layers."""
    return [f'{prefix}_{kind}{i}' for i in range(depth) for kind in 'kv']


def _pairs(flat: Sequence[torch.Tensor]) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _flat(pairs) -> Tuple[torch.Tensor, ...]:
    return tuple(t for pair in pairs for t in pair)


class MemoryKV(nn.Module):
    """``memory (B, S, D)`` -> the network's cross-attention keys/values, per layer."""

    def __init__(self, network: PARSeqNetwork):
        super().__init__()
        self.network = network

    def forward(self, memory: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return _flat(self.network.memory_kv(memory))


class FirstStep(nn.Module):
    """AR step 0: [B] at content position 0 and position query 0; starts the cache."""

    def __init__(self, network: PARSeqNetwork):
        super().__init__()
        self.network = network

    def forward(self, token: torch.Tensor, *memory_kv: torch.Tensor):
        logits, cache = self.network.step(token, 0, _pairs(memory_kv))
        return (logits, *_flat(cache))


class NextStep(nn.Module):
    """AR step ``step >= 1``: the token at content position ``step`` (position embedding
    ``step - 1``, as :meth:`PARSeqNetwork.embed_content`) and position query ``step``, attending
    to the cached content. The step is an input, not a shape, so the graph holds no step."""

    def __init__(self, network: PARSeqNetwork):
        super().__init__()
        self.network = network

    def forward(self, token: torch.Tensor, step: torch.Tensor, *tensors: torch.Tensor):
        net = self.network
        depth = len(net.layers)
        memory_kv, cache = _pairs(tensors[:2 * depth]), _pairs(tensors[2 * depth:])
        positions = net.pos_queries[0]
        index = step.reshape(1)
        query = positions.index_select(0, index)[None].expand(token.shape[0], -1, -1)
        content = net.text_embed(token) + positions.index_select(0, index - 1)[None]
        logits = net.run_layers(query, content, memory_kv, cache=cache)
        return (logits, *_flat(cache))


class Forward(nn.Module):
    """Every query at once under boolean masks (cloze refinement; one-shot decoding):
    :meth:`PARSeqNetwork.read_all`."""

    def __init__(self, network: PARSeqNetwork):
        super().__init__()
        self.network = network

    def forward(self, tokens: torch.Tensor, query_mask: torch.Tensor,
                content_mask: torch.Tensor, padding: torch.Tensor, *memory_kv: torch.Tensor):
        return self.network.read_all(tokens, _pairs(memory_kv), query_mask, content_mask,
                                     padding)


def image_size(model: nn.Module) -> Tuple[int, int]:
    """``(H, W)`` the image tower was built for."""
    return tuple(model.backbone.visual.image_size)


def _spec(module: nn.Module, args: tuple, inputs: List[str], outputs: List[str],
          axes: Dict[str, Dict[int, str]]) -> dict:
    return dict(module=module, args=args, input_names=inputs, output_names=outputs,
                dynamic_axes=axes)


def network_specs(net: PARSeqNetwork, memory: torch.Tensor, batch: int,
                  steps: int) -> Dict[str, dict]:
    """``memory``, ``first``, ``step`` and ``forward`` graphs of one network reading
    ``memory (batch, S, D)``; the step example holds ``steps`` cached steps."""
    depth = len(net.layers)
    mem, past, cache = (kv_names(prefix, depth) for prefix in ('memory', 'past', 'cache'))
    batch_axis = {0: 'batch'}
    kv = MemoryKV(net)(memory)
    token = torch.full((batch, 1), net.bos_id, dtype=torch.long)
    grown = [torch.cat([t] * steps, dim=2) for t in FirstStep(net)(token, *kv)[1:]]
    length = steps + 1
    masks = (torch.zeros(net.max_length, length, dtype=torch.bool),
             torch.zeros(length, length, dtype=torch.bool),
             torch.zeros(batch, length, dtype=torch.bool))
    return dict(
        memory=_spec(MemoryKV(net), (memory, ), ['memory'], mem,
                     {name: batch_axis for name in ['memory'] + mem}),
        first=_spec(FirstStep(net), (token, *kv), ['token'] + mem, ['logits'] + cache,
                    {name: batch_axis for name in ['token', 'logits'] + mem + cache}),
        step=_spec(NextStep(net), (token, torch.tensor(steps), *kv, *grown),
                   ['token', 'step'] + mem + past, ['logits'] + cache,
                   dict({name: batch_axis for name in ['token', 'logits'] + mem},
                        **{name: {0: 'batch', 2: 'steps'} for name in past},
                        **{name: {0: 'batch', 2: 'steps_1'} for name in cache})),
        forward=_spec(Forward(net), (torch.full((batch, length), net.bos_id), *masks, *kv),
                      ['tokens', 'query_mask', 'content_mask', 'padding'] + mem, ['logits'],
                      dict({name: batch_axis for name in mem},
                           tokens={0: 'batch', 1: 'length'},
                           query_mask={0: 'queries', 1: 'length'},
                           content_mask={0: 'length', 1: 'length'},
                           padding={0: 'batch', 1: 'length'},
                           logits={0: 'batch', 1: 'queries'})))


def graph_specs(model: nn.Module, batch: int = 2, steps: int = 3) -> Dict[str, dict]:
    """Every graph of ``model`` (an ``EncoderDecoderRecognizer`` with a ``CLIP4STRDecoder``):
    ``name -> dict(module, args, input_names, output_names, dynamic_axes)``, with example
    inputs of batch ``batch`` and ``steps`` cached steps (run on the model to shape them)."""
    decoder, batch_axis = model.decoder, {0: 'batch'}
    images = torch.zeros(batch, 3, *image_size(model))
    ids = decoder.text_encoder.tokenize(['a'] * batch)
    image, text = model.backbone(images), decoder.text_encoder(ids)
    specs = dict(
        image_tower=_spec(model.backbone, (images, ), ['images'], ['image_tokens'],
                          dict(images=batch_axis, image_tokens=batch_axis)),
        text_tower=_spec(decoder.text_encoder, (ids, ), ['caption_ids'], ['text_tokens'],
                         dict(caption_ids=batch_axis, text_tokens=batch_axis)))
    memories = dict(visual=image, cross=torch.cat([image, text], dim=1))
    for branch in BRANCHES:
        net = getattr(decoder, f'{branch}_decoder')
        for name, spec in network_specs(net, memories[branch], batch, steps).items():
            specs[f'{branch}_{name}'] = spec
    return specs
