"""A small CLIP trained here: word images paired with their text, open_clip's contrastive loss.

:class:`ContrastiveCLIP` holds the two towers CLIP4STR uses (:class:`CLIPVisionBackbone`,
:class:`CLIPTextEncoder`, built from the same config dicts, so geometry and sine-cosine patch
positions match) and a learnable temperature. :func:`clip_state_dict` turns its state dict into a
CLIP weights file in the OpenAI / open_clip key layout (``visual.*``, ``token_embedding.weight``,
``positional_embedding``, ``transformer.*``, ``ln_final.*``, ``text_projection``,
``logit_scale``) that any config's ``clip_pretrained`` accepts (``tools/export_clip.py``).

Captions: what CLIP4STR's cross branch feeds the text tower, the label reduced to lower-case
alphanumerics, plain (``hello``) or spelled out (``h e l l o``; :mod:`.towers`), optionally
inside a template (DPTR's ``a photo of a '{}'``).
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmocr.registry import MODELS
from open_clip.loss import ClipLoss
from torch import nn

from ...text.charsets import CHARSET_36
from ...text.rules import CharsetAdapter
from .towers import check_caption_style, format_caption

#: ContrastiveCLIP state-dict prefix -> prefix in a CLIP weights file (OpenAI layout).
CLIP_FILE_PREFIXES = {'vision.visual.': 'visual.', 'text.text.': '', 'logit_scale': 'logit_scale'}


def clip_state_dict(state: Dict[str, torch.Tensor], dtype: Optional[torch.dtype] = None
                    ) -> Dict[str, torch.Tensor]:
    """The CLIP weights file (OpenAI key layout) of a :class:`ContrastiveCLIP` state dict,
    floating tensors optionally cast to ``dtype``; other keys are left out."""
    out = {}
    for key, value in state.items():
        for prefix, target in CLIP_FILE_PREFIXES.items():
            if key.startswith(prefix):
                value = value.detach().cpu()
                if dtype is not None and value.is_floating_point():
                    value = value.to(dtype)
                out[target + key[len(prefix):]] = value.contiguous()
                break
    return out


@MODELS.register_module()
class ContrastiveCLIP(BaseModel):
    """CLIP (image tower + text tower + learnable temperature) trained with
    ``open_clip.loss.ClipLoss`` on (word image, caption) pairs.

    Args:
        vision: a :class:`CLIPVisionBackbone` config (``type`` may be omitted; ``pretrained``
            warm-starts it from a CLIP weights file).
        text: a :class:`CLIPTextEncoder` config; all its layers train (``freeze_nlayer`` is
            forced to -1) and ``text_length`` is the caption's token count.
        caption_style: 'plain' (``hello``) or 'spelled' (``h e l l o``); see :mod:`.towers`.
        caption_template: format string around the caption (``'{}'``: the bare word).
        caption_charset: characters kept in captions (CLIP4STR's ``charset_test``, lower-case
            alphanumeric: what its cross branch feeds CLIP).
        init_logit_scale: initial temperature (CLIP: 1 / 0.07); the scale is clamped at 100.
        zero_init_token_embedding: start the BPE token embedding at zero, so that rows of tokens
            never seen in training stay exactly zero (AdamW moves only rows with gradients): the
            exported file then compresses to the rows used.
        data_preprocessor: e.g. ``TextRecogDataPreprocessor`` with OpenAI mean / std.
    """

    def __init__(self, vision: dict, text: dict, caption_style: str = 'plain',
                 caption_template: str = '{}', caption_charset: str = CHARSET_36,
                 init_logit_scale: float = 1 / 0.07, zero_init_token_embedding: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.vision = MODELS.build({'type': 'CLIPVisionBackbone', **vision})
        self.text = MODELS.build({'type': 'CLIPTextEncoder', **text, 'freeze_nlayer': -1})
        self.logit_scale = nn.Parameter(torch.tensor(math.log(init_logit_scale)))
        if zero_init_token_embedding:
            nn.init.zeros_(self.text.text.token_embedding.weight)
        self.caption_style = check_caption_style(caption_style)
        self.caption_template = caption_template
        self.adapt = CharsetAdapter(caption_charset)
        self.loss_fn = ClipLoss()

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """``(B, 3, H, W) -> (B, D)``: the CLS token of :class:`CLIPVisionBackbone`."""
        features = self.vision(images)[:, 0]
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, ids: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """``(B, L) -> (B, D)``: the end-of-text token of :class:`CLIPTextEncoder` (the largest
        id, hence argmax), as CLIP."""
        tokens = self.text(ids)
        features = tokens[torch.arange(ids.shape[0], device=ids.device), ids.argmax(dim=-1)]
        return F.normalize(features, dim=-1) if normalize else features

    def captions(self, data_samples: Sequence) -> List[str]:
        return [format_caption(self.adapt(s.gt_text.item), self.caption_style,
                               self.caption_template) for s in data_samples]

    def embed(self, inputs: torch.Tensor, data_samples: Sequence):
        """Normalised image and caption embeddings ``(B, D)`` each, and the captions."""
        captions = self.captions(data_samples)
        return (self.encode_image(inputs), self.encode_text(self.text.tokenize(captions)),
                captions)

    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            if data_samples is None:
                return self.encode_image(inputs)
            return self.embed(inputs, data_samples)[:2]
        raise RuntimeError(f"mode must be 'loss', 'predict' or 'tensor', not {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: Sequence) -> Dict[str, torch.Tensor]:
        image, text, _ = self.embed(inputs, data_samples)
        # the (B, B) logits in fp32 even under autocast: a bf16 logit near the temperature's
        # clamp (100) is rounded to a step of 0.5
        with torch.autocast(image.device.type, enabled=False):
            scale = self.logit_scale.float().exp().clamp(max=100)
            loss = self.loss_fn(image.float(), text.float(), scale)
        return dict(loss=loss, logit_scale=scale.detach())

    def predict(self, inputs: torch.Tensor, data_samples: Sequence) -> Sequence:
        """Each sample gets ``img_embed`` and ``text_embed`` (its own caption's; normalised,
        fp32) and the metainfo ``caption``, for :class:`ZeroShotRetrievalMetric`."""
        image, text, captions = self.embed(inputs, data_samples)
        for sample, img, txt, caption in zip(data_samples, image.float(), text.float(),
                                             captions):
            sample.set_field(img, 'img_embed')
            sample.set_field(txt, 'text_embed')
            sample.set_metainfo(dict(caption=caption))
        return data_samples
