"""DPTR's pseudo-visual memory: a frozen CLIP text tower reading ``a photo of a '<label>'``."""
import torch
from mmengine.model import BaseModule
from mmocr.registry import MODELS

from ..clip.towers import CLIPTextEncoder


@MODELS.register_module()
class FrozenCLIPTextMemory(BaseModule):
    """``ids (B, 77) -> (B, 78, D)``: [the projected end-of-text feature; the 77 ``ln_final``
    token states (not projected)], padding positions included.

    The CLIP text tower is held outside the module tree: it gets no gradient, stays in eval
    mode, is invisible to optimisers and DDP, and is never written into (or expected in)
    checkpoints, so pre-training checkpoints hold the decoder only. Its weights come from the
    local CLIP file ``pretrained``, read on first use (also when a run only tests). The joint
    width must equal the text width (512 for ViT-B/16): the reference uses both as one memory.

    Args:
        pretrained: local CLIP weights (as for :class:`CLIPTextEncoder`); None = random.
        embed_dim, width, layers, heads, act, ...: the text tower's geometry.
    """

    def __init__(self, pretrained=None, embed_dim: int = 512, width: int = 512,
                 layers: int = 12, init_cfg=None, **geometry):
        super().__init__(init_cfg=init_cfg)
        if embed_dim != width:
            raise ValueError(f'the memory mixes projected ({embed_dim}) and unprojected '
                             f'({width}) features; they must have one width')
        clip = CLIPTextEncoder(embed_dim, width=width, layers=layers, text_length=77,
                               freeze_nlayer=-1, pretrained=pretrained, **geometry)
        clip.requires_grad_(False).eval()
        object.__setattr__(self, 'clip', clip)      # not a submodule, on purpose
        self._loaded = pretrained is None

    def _apply(self, fn, recurse=True):
        self.clip._apply(fn)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip.eval()
        return self

    def tokenize(self, texts) -> torch.Tensor:
        return self.clip.tokenize(texts)

    @torch.no_grad()
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not self._loaded:
            self.clip.load_pretrained()
            self._loaded = True
        states = self.clip.encode(ids)
        eot = states[torch.arange(len(ids), device=ids.device), ids.argmax(-1)]
        return torch.cat([(eot @ self.clip.text.text_projection)[:, None], states], dim=1)
