"""Where each PARSeq network looks: its last layer's cross-attention over the image patches, per
decoded character, recorded only on request.

:func:`recording` hooks one :class:`CachedMultiheadAttention` for the length of a ``with`` block;
the hooked forward still runs the fused attention and returns the same values, and the weights
are recomputed beside it from the same queries and keys. Outside such a block nothing is done.
:func:`predict_with_attention` runs a recognizer's ``test_step`` with every network of its decoder
hooked and returns, per sample and branch, the decoded text and one patch map per character.
"""
from contextlib import ExitStack, contextmanager
from typing import Dict, Iterator, List, NamedTuple, Tuple

import numpy as np
import torch

from clip4str_plugin.models.parseq.attention import CachedMultiheadAttention

#: decoder attribute of a network -> (branch name, the data-sample field holding its text)
BRANCHES = {'visual_decoder': ('visual', 'visual_pred_text'),
            'cross_decoder': ('cross', 'pred_text'),
            'decoder': ('decoder', 'pred_text')}


class BranchMaps(NamedTuple):
    """One branch's text and its maps ``(len(text), rows, cols)`` (each over the patch grid,
    the attention that character's query gives the image patches, averaged over heads)."""
    text: str
    maps: np.ndarray
    source: str


@contextmanager
def recording(attention: CachedMultiheadAttention) -> Iterator[List[torch.Tensor]]:
    """Within the block, every forward of ``attention`` appends its weights ``(N, L, S)``
    (softmax over the keys, averaged over heads) to the yielded list."""
    calls: List[torch.Tensor] = []

    def record(q: torch.Tensor, keys: torch.Tensor, blocked) -> None:
        scores = (q @ keys.transpose(-1, -2)) * q.shape[-1] ** -0.5
        if blocked is not None:
            scores = scores.masked_fill(blocked, float('-inf'))
        calls.append(scores.float().softmax(-1).mean(1))

    attention.recorder = record
    try:
        yield calls
    finally:
        attention.recorder = None


def final_pass(calls: List[torch.Tensor], decode_ar: bool, refine_iters: int
               ) -> Tuple[torch.Tensor, str]:
    """The weights ``(N, L, S)`` of the pass whose logits are the branch's answer, and its name:
    the last refinement pass if the decoder refines, else the AR steps side by side (one query
    each) or the one-shot pass."""
    if refine_iters > 0:
        return calls[-1], 'refinement'
    if decode_ar:
        return torch.cat(calls, dim=1), 'autoregressive'
    return calls[-1], 'one-shot'


def patch_grid(model) -> Tuple[int, int, int]:
    """``(rows, cols, leading)`` of the image tokens the decoder reads: the ViT's patch grid and
    the tokens before it (1 for CLIP's CLS token).

    Raises:
        ValueError: when the decoder does not read the backbone's patches (an encoder such as
            DPTR's Feature Merge Unit in between, or a backbone of unknown geometry).
    """
    if getattr(model, 'encoder', None) is not None:
        raise ValueError(f'the decoder reads {type(model.encoder).__name__} tokens, not image '
                         'patches: attention maps need a recognizer without an encoder')
    backbone = model.backbone
    if hasattr(backbone, 'visual'):          # CLIPVisionBackbone: CLS, then the patches
        rows, cols = backbone.visual.grid_size
        return int(rows), int(cols), 1
    if hasattr(backbone, 'vit'):             # ViTBackbone (timm, no class token)
        rows, cols = backbone.vit.patch_embed.grid_size
        return int(rows), int(cols), int(backbone.vit.num_prefix_tokens)
    raise ValueError(f'attention maps need a ViT backbone with a patch grid, not '
                     f'{type(backbone).__name__}')


@torch.no_grad()
def predict_with_attention(model, data_batch: dict) -> Tuple[list, List[Dict[str, BranchMaps]]]:
    """``model.test_step(data_batch)`` with the maps of every branch.

    Returns:
        the data samples (exactly those of a plain ``test_step``) and, per sample,
        ``{branch: BranchMaps}`` (``visual`` and ``cross`` for CLIP4STR, ``decoder`` for a
        single network).
    """
    rows, cols, leading = patch_grid(model)
    decoder = model.decoder
    networks = {name: net for name, net in decoder.networks().items() if name in BRANCHES}
    with ExitStack() as stack:
        calls = {name: stack.enter_context(recording(net.layers[-1].cross_attn))
                 for name, net in networks.items()}
        samples = model.test_step(data_batch)
    results: List[Dict[str, BranchMaps]] = [{} for _ in samples]
    for name in networks:
        if not calls[name]:
            raise RuntimeError(f'{name} recorded no attention: its decode did not run it')
        weights, source = final_pass(calls[name], decoder.decode_ar, decoder.refine_iters)
        patches = weights[..., leading:leading + rows * cols]   # the cross branch's text dropped
        if patches.shape[-1] != rows * cols:
            raise ValueError(f'{name} reads {weights.shape[-1]} tokens, fewer than the '
                             f'{leading} + {rows}x{cols} image tokens of the backbone')
        branch, field = BRANCHES[name]
        for sample, result, per_sample in zip(samples, results, patches):
            text = sample.get(field).item
            maps = per_sample[:len(text)].reshape(len(text), rows, cols).cpu().numpy()
            result[branch] = BranchMaps(text, maps, source)
    return samples, results
