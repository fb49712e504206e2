"""The two CLIP towers on open_clip modules, returning every token (not only CLS / EOT), and
what the text tower reads: captions, then CLIP's BPE ids.

Geometry is data (the config's ``clip`` dict). Defaults follow the CLIP4STR reference: QuickGELU,
LayerNorm computed in fp32, ``width // 64`` heads unless overridden (ViT-H: 20).

A word is captioned in one of two styles, in one place (:func:`format_caption`) for CLIP4STR's
cross branch, ContrastiveCLIP and DPTR's text-only prompts:

* ``'plain'``: the word itself (``hello``), as CLIP4STR feeds OpenAI's CLIP: BPE splits it into
  sub-word tokens, thousands of distinct ones over a dictionary.
* ``'spelled'``: its characters separated by spaces (``h e l l o``): every character is one BPE
  token (``h</w>``), so 36 token rows serve every word (held-out words included) and a tower
  trained from scratch learns spelling far sooner (docs/benchmarks.md).
"""
import functools
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmocr.registry import MODELS
from open_clip.transformer import (LayerNormFp32, QuickGELU, TextTransformer,
                                   VisionTransformer)
from torch import nn

from ...compute.kernels import compiled_blocks, transformer_forward
from ...weights.clip_weights import TEXT_TOWER_KEYS, load_clip_state_dict
from ..load_checks import check_fit_on_load, load_into

ACTIVATIONS = {'quick_gelu': QuickGELU, 'gelu': nn.GELU}
CAPTION_STYLES = ('plain', 'spelled')
#: an :func:`encode` length that cuts nothing
UNCUT = 1 << 30


def check_caption_style(style: str) -> str:
    if style not in CAPTION_STYLES:
        raise ValueError(f'caption_style must be one of {", ".join(CAPTION_STYLES)}, '
                         f'not {style!r}')
    return style


def format_caption(text: str, style: str = 'plain', template: str = '{}') -> str:
    """``template`` around ``text`` written in ``style``."""
    return template.format(' '.join(text) if check_caption_style(style) == 'spelled' else text)


@functools.lru_cache(maxsize=None)
def _bpe():
    from open_clip.tokenizer import SimpleTokenizer
    return SimpleTokenizer()


@functools.lru_cache(maxsize=1 << 17)
def encode(text: str, length: int) -> Tuple[int, ...]:
    """SOT + BPE(text) + EOT, cut to ``length`` with EOT kept last (open_clip's truncation);
    cached, so per-string BPE leaves the hot loop."""
    bpe = _bpe()
    ids = [bpe.sot_token_id] + bpe.encode(text) + [bpe.eot_token_id]
    if len(ids) > length:
        ids = ids[:length]
        ids[-1] = bpe.eot_token_id
    return tuple(ids)


def tokenize(texts: Sequence[str], length: int) -> torch.Tensor:
    """Token ids ``(len(texts), length)``, zero-padded, as open_clip's ``tokenize``."""
    out = torch.zeros(len(texts), length, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = encode(text, length)
        out[row, :len(ids)] = torch.tensor(ids)
    return out


def sincos_2d(rows: int, cols: int, dim: int, cls_token: bool = False) -> torch.Tensor:
    """``(rows * cols (+1), dim)`` 2-D sine-cosine positions: half the channels encode the row,
    half the column (a zero row first for the CLS token)."""
    def axis(n, channels):
        pos = torch.arange(n, dtype=torch.float32)[:, None]
        freq = 1.0 / 10000 ** (torch.arange(channels // 2, dtype=torch.float32) / (channels // 2))
        return torch.cat([torch.sin(pos * freq), torch.cos(pos * freq)], dim=1)

    if dim % 4:
        raise ValueError(f'sin-cos positions need a width divisible by 4, got {dim}')
    grid = torch.cat([axis(rows, dim // 2)[:, None].expand(rows, cols, -1),
                      axis(cols, dim // 2)[None].expand(rows, cols, -1)], dim=-1)
    grid = grid.reshape(rows * cols, dim)
    return torch.cat([grid.new_zeros(1, dim), grid]) if cls_token else grid


def _freeze(modules: Sequence[nn.Module] = (), params: Sequence[nn.Parameter] = ()) -> None:
    for part in list(modules) + list(params):
        part.requires_grad_(False)


class _CLIPTower(BaseModule):
    """Shared behaviour: local weight loading in ``init_weights`` and frozen parts kept in eval."""

    def __init__(self, pretrained: Optional[str], round_to_fp16: bool, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_fit_on_load(self)
        self.pretrained = pretrained
        self.round_to_fp16 = round_to_fp16
        self._frozen_modules: Sequence[nn.Module] = ()

    def _load(self, tower: nn.Module, prefix: str) -> None:
        state = load_clip_state_dict(self.pretrained)
        state = {k: v for k, v in state.items() if self._owns(k)}
        load_into(tower, state, prefix, self.pretrained, self.round_to_fp16)
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: loaded {len(state)} tensors from {self.pretrained}')

    def _owns(self, key: str) -> bool:
        raise NotImplementedError

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained:
            self.load_pretrained()

    def load_pretrained(self) -> None:
        raise NotImplementedError

    def train(self, mode: bool = True):
        super().train(mode)
        for module in self._frozen_modules:
            module.eval()
        return self


@MODELS.register_module()
class CLIPVisionBackbone(_CLIPTower):
    """CLIP ViT image tower: ``(B, 3, H, W) -> (B, 1 + H/ph * W/pw, embed_dim)``, CLS first,
    every token after ``ln_post`` and ``proj``.

    Args:
        embed_dim: CLIP joint embedding width (output width).
        image_size, patch_size: int or (h, w).
        width, layers, heads, mlp_ratio: transformer geometry; ``heads`` defaults to width // 64.
        act: 'quick_gelu' (reference) or 'gelu'.
        freeze_nlayer: -1 trains everything; N >= 0 freezes class/positional embeddings and the
            first N blocks, as the reference's ``image_freeze_nlayer``.
        pretrained: local CLIP weights file loaded by ``init_weights``.
        round_to_fp16: round loaded weights to fp16 values, as the reference's loader does.
        pos_embed_init: 'random' (open_clip / OpenAI) or 'sincos' (2-D sine-cosine patch
            positions, CLS at 0): only matters when training from scratch, where it makes the
            decoders find the characters' positions much sooner.
        grad_checkpointing: recompute each block's activations in the backward pass instead of
            keeping them (less memory in training, about one more forward pass of time).
        compile: the blocks through ``torch.compile`` (True, or a dict of its arguments); False
            (default): it did not pay on the CPUs measured (docs/benchmarks.md).
    """

    def __init__(self, embed_dim: int, image_size=224, patch_size=16, width: int = 768,
                 layers: int = 12, heads: Optional[int] = None, mlp_ratio: float = 4.0,
                 act: str = 'quick_gelu', freeze_nlayer: int = -1,
                 pretrained: Optional[str] = None, round_to_fp16: bool = False,
                 pos_embed_init: str = 'random', grad_checkpointing: bool = False,
                 compile=False, init_cfg=None):
        super().__init__(pretrained, round_to_fp16, init_cfg)
        self._blocks = compiled_blocks(compile)
        self.visual = VisionTransformer(
            image_size=tuple(image_size) if isinstance(image_size, (list, tuple)) else image_size,
            patch_size=tuple(patch_size) if isinstance(patch_size, (list, tuple)) else patch_size,
            width=width, layers=layers, heads=heads or width // 64, mlp_ratio=mlp_ratio,
            output_dim=embed_dim, act_layer=ACTIVATIONS[act], norm_layer=LayerNormFp32)
        self.visual.transformer.grad_checkpointing = grad_checkpointing
        if pos_embed_init == 'sincos':
            with torch.no_grad():
                self.visual.positional_embedding.copy_(
                    sincos_2d(*self.visual.grid_size, width, cls_token=True))
        elif pos_embed_init != 'random':
            raise ValueError(f"pos_embed_init must be 'random' or 'sincos', not {pos_embed_init!r}")
        if freeze_nlayer >= 0:
            blocks = list(self.visual.transformer.resblocks[:freeze_nlayer])
            _freeze(blocks, [self.visual.class_embedding, self.visual.positional_embedding])
            self._frozen_modules = blocks

    def _owns(self, key: str) -> bool:
        return key.startswith('visual.')

    def load_pretrained(self) -> None:
        self._load(self.visual, 'visual.')

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        vit = self.visual
        x = vit.conv1(images).flatten(2).transpose(1, 2)
        cls = vit.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + vit.positional_embedding.to(x.dtype)
        x = self._blocks(vit.transformer, vit.ln_pre(x))
        return vit.ln_post(x) @ vit.proj


@MODELS.register_module()
class CLIPTextEncoder(_CLIPTower):
    """CLIP text tower over every token position.

    ``forward(ids (B, L)) -> (B, L, embed_dim)``: ``ln_final`` states times ``text_projection``,
    padding positions kept, causal mask and positional embedding sliced to ``L``.

    Args:
        embed_dim: CLIP joint embedding width.
        context_length: positional embedding rows in the weights (77 for every CLIP).
        text_length: tokens used by :meth:`tokenize` (CLIP4STR: 16).
        vocab_size, width, layers, heads, mlp_ratio, act: geometry; heads default width // 64.
        freeze_nlayer: freeze token/positional embeddings and the first N blocks, kept in eval
            mode (reference ``text_freeze_nlayer``, default 6); -1 trains everything.
        pretrained, round_to_fp16, grad_checkpointing: as for :class:`CLIPVisionBackbone`.
    """

    def __init__(self, embed_dim: int, context_length: int = 77, text_length: int = 16,
                 vocab_size: int = 49408, width: int = 512, layers: int = 12,
                 heads: Optional[int] = None, mlp_ratio: float = 4.0, act: str = 'quick_gelu',
                 freeze_nlayer: int = 6, pretrained: Optional[str] = None,
                 round_to_fp16: bool = False, grad_checkpointing: bool = False, init_cfg=None):
        super().__init__(pretrained, round_to_fp16, init_cfg)
        if not 0 < text_length <= context_length:
            raise ValueError(f'text_length must be in 1..{context_length}, got {text_length}')
        self.text_length = text_length
        self.text = TextTransformer(
            context_length=context_length, vocab_size=vocab_size, width=width,
            heads=heads or width // 64, layers=layers, mlp_ratio=mlp_ratio,
            output_dim=embed_dim, act_layer=ACTIVATIONS[act], norm_layer=LayerNormFp32)
        self.text.transformer.grad_checkpointing = grad_checkpointing
        if freeze_nlayer >= 0:
            blocks = list(self.text.transformer.resblocks[:freeze_nlayer])
            _freeze(blocks + [self.text.token_embedding], [self.text.positional_embedding])
            self._frozen_modules = blocks

    def _owns(self, key: str) -> bool:
        return key.startswith(TEXT_TOWER_KEYS)

    def load_pretrained(self) -> None:
        self._load(self.text, '')

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """CLIP BPE ids ``(len(texts), text_length)`` on the tower's device."""
        ids = tokenize(texts, self.text_length)
        return ids.to(self.text.positional_embedding.device)

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, L) -> (B, L, width)``: every position's ``ln_final`` state (not projected)."""
        text, length = self.text, ids.shape[1]
        x = text.token_embedding(ids) + text.positional_embedding[:length]
        x = transformer_forward(text.transformer, x, causal=text.attn_mask is not None)
        return text.ln_final(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.encode(ids) @ self.text.text_projection
