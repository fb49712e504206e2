"""One PARSeq decoder as an MMOCR ``BaseDecoder`` (DPTR's pre-training and fine-tuning)."""
from typing import Dict, Optional, Sequence

import torch
from mmocr.models.textrecog.decoders import BaseDecoder
from mmocr.registry import MODELS
from mmocr.structures import TextRecogDataSample

from ...weights.decoder_transfer import load_decoder_weights


@MODELS.register_module()
class PARSeqRecDecoder(BaseDecoder):
    """A PARSeq decoder reading ``out_enc`` (the encoder's output, e.g. FMU or ORP) or, without
    an encoder, the backbone's ``feat``. Trained with permutation language modelling; decodes
    autoregressively (or in one shot) and refines ``refine_iters`` times.

    Args:
        dictionary: :class:`PARSeqDictionary` config.
        decoder: :class:`PARSeqDecoder` geometry (DPTR: embed_dim 512, depth 6, 8 heads).
        module_loss, postprocessor, max_seq_len, num_perms, decode_ar, refine_iters: as
            :class:`CLIP4STRDecoder`.
        pretrained: ``dict(checkpoint=..., prefix=...)``: decoder weights loaded by
            ``init_weights`` (a DPTR pre-training checkpoint: prefix ``'decoder.decoder.'``).
    """

    def __init__(self, dictionary, decoder: Dict, module_loss: Optional[Dict] = None,
                 postprocessor: Optional[Dict] = None, max_seq_len: int = 25,
                 num_perms: int = 6, decode_ar: bool = True, refine_iters: int = 1,
                 pretrained: Optional[Dict] = None, init_cfg=None):
        super().__init__(dictionary, module_loss, postprocessor, max_seq_len, init_cfg)
        dic = self.dictionary
        self.decoder = MODELS.build(dict(
            type='PARSeqDecoder', num_classes=dic.num_classes - 2, vocab_size=dic.num_classes,
            bos_id=dic.start_idx, eos_id=dic.end_idx, max_length=max_seq_len + 1, **decoder))
        self.num_perms, self.decode_ar = num_perms, decode_ar
        self.refine_iters, self.pretrained = refine_iters, pretrained

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained:
            load_decoder_weights(self.decoder, self.pretrained['checkpoint'],
                                 self.pretrained['prefix'], type(self).__name__)

    @staticmethod
    def _memory(feat, out_enc):
        return feat if out_enc is None else out_enc

    def forward_train(self, feat=None, out_enc=None, data_samples=None):
        """Teacher-forced logits ``{'visual': (K, B, T+1, C)}`` and targets ``(K, B, T+1)``."""
        memory = self._memory(feat, out_enc)
        batch = self.module_loss.plm_batch(data_samples, self.num_perms, memory.device)
        logits = self.decoder(batch.tokens, memory, batch.query_mask, batch.content_mask,
                              batch.padding)
        return dict(visual=logits), batch.targets

    def loss(self, feat=None, out_enc=None, data_samples=None) -> Dict:
        return self.module_loss(*self.forward_train(feat, out_enc, data_samples))

    def decode(self, memory: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, L, C)``: AR (or one-shot) decoding, then the refinements."""
        logits = self.decoder.decode_ar(memory) if self.decode_ar else \
            self.decoder.decode_nar(memory)
        for _ in range(self.refine_iters):
            logits = self.decoder.refine(memory, logits)
        return logits

    def forward_test(self, feat=None, out_enc=None, data_samples=None) -> torch.Tensor:
        return self.decode(self._memory(feat, out_enc)).softmax(-1)

    def forward(self, feat=None, out_enc=None, data_samples=None):
        if self.training:
            return self.forward_train(feat, out_enc, data_samples)
        return self.forward_test(feat, out_enc, data_samples)

    def predict(self, feat=None, out_enc=None,
                data_samples: Sequence[TextRecogDataSample] = None):
        return self.postprocessor(self.forward_test(feat, out_enc), data_samples)
