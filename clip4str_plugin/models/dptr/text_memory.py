"""DPTR's pseudo-visual memory: a frozen CLIP text tower reading ``a photo of a '<label>'``."""
import torch
from mmengine.model import BaseModule
from mmocr.registry import MODELS
from torch import nn

from ..clip.towers import CLIPTextEncoder


def hold_in_fp16(tower: nn.Module) -> None:
    """Cast every weight of ``tower`` to fp16 but the LayerNorms' (they run in fp32), as the
    reference's CLIP loader does on a GPU (``convert_weights``; OpenAI's weights are fp16
    values, so nothing is lost)."""
    norms = {id(p) for m in tower.modules() if isinstance(m, nn.LayerNorm)
             for p in m.parameters()}
    for param in tower.parameters():
        if id(param) not in norms and param.dtype != torch.float16:
            param.data = param.data.half()


@MODELS.register_module()
class FrozenCLIPTextMemory(BaseModule):
    """``ids (B, L) -> (B, L + 1, D)``: [the projected end-of-text feature; the L ``ln_final``
    token states (not projected)], padding positions included. L = ``text_length`` (DPTR: 77;
    a tower trained on shorter captions: as many as it was trained on, with
    ``PackCLIPPrompt(context_length=L)``).

    The CLIP text tower is held outside the module tree: it gets no gradient, stays in eval
    mode, is invisible to optimisers and DDP, and is never written into (or expected in)
    checkpoints, so pre-training checkpoints hold the decoder only. Its weights come from the
    local CLIP file ``pretrained``, read on first use (also when a run only tests). The joint
    width must equal the text width (512 for ViT-B/16): the reference uses both as one memory.

    Precision as the reference: on a GPU the tower is held in fp16 (:func:`hold_in_fp16`) and
    its ``ln_final`` states are rounded to fp16, so under fp16 autocast (``tools/train.py
    --amp``) the memory is fp16 as there; without autocast it is returned in fp32 (the decoder's
    precision). Under bf16 autocast the projected feature is cast to fp16 and joined outside
    autocast (OpenOCR's concatenation of bf16 and fp16 raises there).

    Args:
        pretrained: local CLIP weights (as for :class:`CLIPTextEncoder`); None = random.
        text_length: tokens per prompt (the data pipeline's ``context_length``).
        fp16_on_gpu: hold the tower in fp16 on a GPU (True, the reference); False: fp32.
        embed_dim, width, layers, heads, act, ...: the text tower's geometry.
    """

    def __init__(self, pretrained=None, embed_dim: int = 512, width: int = 512,
                 layers: int = 12, text_length: int = 77, fp16_on_gpu: bool = True,
                 init_cfg=None, **geometry):
        super().__init__(init_cfg=init_cfg)
        self.fp16_on_gpu = fp16_on_gpu
        if embed_dim != width:
            raise ValueError(f'the memory mixes projected ({embed_dim}) and unprojected '
                             f'({width}) features; they must have one width')
        clip = CLIPTextEncoder(embed_dim, width=width, layers=layers, text_length=text_length,
                               freeze_nlayer=-1, pretrained=pretrained, **geometry)
        clip.requires_grad_(False).eval()
        object.__setattr__(self, 'clip', clip)      # not a submodule, on purpose
        self._loaded = pretrained is None

    def _apply(self, fn, recurse=True):
        self.clip._apply(fn)
        if self.fp16_on_gpu and self.clip.text.text_projection.is_cuda:
            hold_in_fp16(self.clip)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip.eval()
        return self

    def tokenize(self, texts) -> torch.Tensor:
        return self.clip.tokenize(texts)

    @torch.no_grad()
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] != self.clip.text_length:
            raise ValueError(f'FrozenCLIPTextMemory: prompts of {ids.shape[1]} tokens, but '
                             f'text_length={self.clip.text_length}; set PackCLIPPrompt\'s '
                             'context_length to the text tower\'s text_length')
        if not self._loaded:
            self.clip.load_pretrained()
            self._loaded = True
        projection = self.clip.text.text_projection
        states = self.clip.encode(ids).to(projection.dtype)
        eot = states[torch.arange(len(ids), device=ids.device), ids.argmax(-1)]
        projected = (eot @ projection).to(states.dtype)
        autocast = torch.is_autocast_enabled(ids.device.type)
        with torch.autocast(ids.device.type, enabled=False):   # bf16 autocast refuses fp16 here
            memory = torch.cat([projected[:, None], states], dim=1)
        return memory if autocast else memory.float()
