"""CLIP4STR's dual predict-and-refine decoder as an MMOCR ``BaseDecoder``.

The image tower is the recognizer's backbone; this module owns the CLIP text encoder and the two
PARSeq decoders (``visual_decoder`` on image tokens, ``cross_decoder`` on [image; text] tokens).
"""
import copy
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmocr.models.textrecog.decoders import BaseDecoder
from mmocr.registry import MODELS
from mmocr.structures import TextRecogDataSample

from ...text.charsets import CHARSET_36
from ...text.rules import CharsetAdapter
from ...weights.decoder_transfer import load_decoder_weights
from ..parseq.attention import SplitMemory


@MODELS.register_module()
class CLIP4STRDecoder(BaseDecoder):
    """Visual and cross-modal decoders around a CLIP text encoder.

    Args:
        dictionary: :class:`PARSeqDictionary` config (or instance).
        text_encoder: :class:`CLIPTextEncoder` config.
        decoder: geometry of both decoders (:class:`PARSeqDecoder` keyword arguments other than
            the vocabulary, which the dictionary fixes).
        module_loss, postprocessor: :class:`PLMModuleLoss`, :class:`PARSeqPostprocessor` configs.
        max_seq_len: longest label (25); the decoders get ``max_seq_len + 1`` position queries.
        num_perms: permutations per training step (6).
        decode_ar: autoregressive (True, reference) or one-shot decoding.
        refine_iters: cloze refinement rounds at test time (1); 0 skips refinement.
        image_detach: the cross branch does not back-propagate into the image tower (True).
        text_charset: what the prediction is reduced to before CLIP reads it (the reference's
            ``charset_test``: lower-case alphanumeric).
        pretrained: ``dict(checkpoint=..., prefix=...)``: start both decoders from one
            pre-trained PARSeq decoder (DPTR text-only pre-training), loaded by ``init_weights``.
    """

    def __init__(self, dictionary, text_encoder: Dict, decoder: Dict,
                 module_loss: Optional[Dict] = None, postprocessor: Optional[Dict] = None,
                 max_seq_len: int = 25, num_perms: int = 6, decode_ar: bool = True,
                 refine_iters: int = 1, image_detach: bool = True,
                 text_charset: str = CHARSET_36, pretrained: Optional[Dict] = None,
                 init_cfg=None):
        super().__init__(dictionary, module_loss, postprocessor, max_seq_len, init_cfg)
        dic = self.dictionary
        branch = dict(type='PARSeqDecoder', num_classes=dic.num_classes - 2,
                      vocab_size=dic.num_classes, bos_id=dic.start_idx, eos_id=dic.end_idx,
                      max_length=max_seq_len + 1, **decoder)
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_decoder = MODELS.build(copy.deepcopy(branch))
        self.cross_decoder = MODELS.build(copy.deepcopy(branch))
        self.num_perms, self.decode_ar = num_perms, decode_ar
        self.refine_iters, self.image_detach = refine_iters, image_detach
        self.pretrained = pretrained
        adapt = CharsetAdapter(text_charset)
        # class id -> what that character contributes to the CLIP caption ('' for [E] etc.)
        self._caption_chars = [''] + [adapt(c) for c in dic.dict[1:-2]]

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained:
            for name in ('visual_decoder', 'cross_decoder'):
                load_decoder_weights(getattr(self, name), self.pretrained['checkpoint'],
                                     self.pretrained['prefix'], f'CLIP4STRDecoder.{name}')

    # ---------------------------------------------------------------- cross-modal memory
    def captions(self, logits: torch.Tensor) -> Sequence[str]:
        """Greedy strings of ``logits (N, L, C)``, cut at [E], reduced to ``text_charset``."""
        eos, table = self.dictionary.end_idx, self._caption_chars
        captions = []
        for ids in logits.argmax(-1).tolist():
            end = ids.index(eos) if eos in ids else len(ids)
            captions.append(''.join(table[i] for i in ids[:end]))
        return captions

    def encode_captions(self, logits: torch.Tensor) -> torch.Tensor:
        """CLIP text tokens ``(N, text_length, D)`` of the captions of ``logits (N, L, C)``.

        Identical captions (frequent across permutations and within a batch) are encoded once.
        """
        ids = self.text_encoder.tokenize(self.captions(logits.detach()))
        unique, inverse = torch.unique(ids, dim=0, return_inverse=True)
        return self.text_encoder(unique)[inverse]

    def cross_memory(self, image: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """``[image (N, S, D); CLIP text tokens (N, text_length, D)]`` for the cross decoder."""
        return torch.cat([image, self.encode_captions(logits).to(image.dtype)], dim=1)

    # ---------------------------------------------------------------- training
    def forward_train(self, feat: torch.Tensor, out_enc=None,
                      data_samples: Sequence[TextRecogDataSample] = None,
                      ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        """Teacher-forced logits of both branches under K permutations.

        Returns:
            ``{'visual': (K, B, T+1, C), 'cross': (K, B, T+1, C)}`` and targets ``(K, B, T+1)``
            (from the third permutation on, [E] targets become [P], as in the reference).
        """
        batch = self.module_loss.plm_batch(data_samples, self.num_perms, feat.device)
        masks = (batch.query_mask, batch.content_mask, batch.padding)
        visual = self.visual_decoder(batch.tokens, feat, *masks)
        image = feat.detach() if self.image_detach else feat
        # one caption per permutation; the image tokens are shared, not copied K times
        text = self.encode_captions(visual.flatten(0, 1)).to(image.dtype)
        cross = self.cross_decoder(batch.tokens, SplitMemory(image, text), *masks)
        return dict(visual=visual, cross=cross), batch.targets

    def loss(self, feat: torch.Tensor, out_enc=None,
             data_samples: Sequence[TextRecogDataSample] = None) -> Dict:
        return self.module_loss(*self.forward_train(feat, out_enc, data_samples))

    # ---------------------------------------------------------------- inference
    def decode(self, feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Dual predict-and-refine. ``feat (B, S, D)`` -> (cross, visual) logits ``(B, L, C)``.

        Visual decode (AR with early stop, or one-shot); cross memory from its caption; cross
        decode for as many steps (stopping once every sample has ended, which leaves the final
        text unchanged); then ``refine_iters`` rounds refining the visual branch, re-captioning
        it and refining the cross branch. The cross logits are the answer.
        """
        if self.decode_ar:
            visual = self.visual_decoder.decode_ar(feat)
            cross = self.cross_decoder.decode_ar(self.cross_memory(feat, visual),
                                                 visual.shape[1])
        else:
            visual = self.visual_decoder.decode_nar(feat)
            cross = self.cross_decoder.decode_nar(self.cross_memory(feat, visual))
        for _ in range(self.refine_iters):
            visual = self.visual_decoder.refine(feat, visual)
            cross = self.cross_decoder.refine(self.cross_memory(feat, visual), cross)
        return cross, visual

    def forward_test(self, feat: torch.Tensor, out_enc=None, data_samples=None) -> torch.Tensor:
        """Probabilities ``(B, L, C)`` of the final (cross) prediction."""
        return self.decode(feat)[0].softmax(-1)

    def forward(self, feat=None, out_enc=None, data_samples=None):
        if self.training:
            return self.forward_train(feat, out_enc, data_samples)
        return self.forward_test(feat, out_enc, data_samples)

    def predict(self, feat: torch.Tensor, out_enc=None,
                data_samples: Sequence[TextRecogDataSample] = None
                ) -> Sequence[TextRecogDataSample]:
        """Fill ``pred_text`` (cross branch) and ``visual_pred_text`` (visual branch)."""
        cross, visual = self.decode(feat)
        self.postprocessor(visual.softmax(-1), data_samples, field='visual_pred_text')
        return self.postprocessor(cross.softmax(-1), data_samples)
