"""The MMOCR decoder base of every recognizer built on PARSeq networks (CLIP4STR, DPTR).

A subclass makes its networks with :meth:`PLMDecoder.build_network` and says what they do on a
training batch (:meth:`~PLMDecoder.training_logits`) and at test time (:meth:`~PLMDecoder.decode`);
the base turns that into MMOCR's ``forward`` / ``loss`` / ``predict``, whose texts
:class:`PARSeqPostprocessor` (greedy, cut at [E]) writes into the data samples.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.structures import LabelData
from mmocr.models.textrecog.decoders import BaseDecoder
from mmocr.models.textrecog.postprocessors.base import BaseTextRecogPostprocessor
from mmocr.registry import MODELS
from mmocr.structures import TextRecogDataSample

from ..load_checks import check_fit_on_load
from .attention import Memory
from .loss import PLMBatch
from .network import PARSeqNetwork

#: What ``decoder=dict(...)`` of a config may set; the dictionary fixes the vocabulary.
GEOMETRY = ('embed_dim', 'depth', 'num_heads', 'mlp_ratio', 'dropout')


class PLMDecoder(BaseDecoder):
    """PARSeq networks trained by permutation language modelling, decoded greedily.

    Args:
        dictionary: :class:`PARSeqDictionary` config (or instance).
        module_loss, postprocessor: :class:`PLMModuleLoss`, :class:`PARSeqPostprocessor` configs.
        max_seq_len: longest label (25); the networks get ``max_seq_len + 1`` position queries.
        num_perms: permutations per training step (6).
        decode_ar: autoregressive (True, reference) or one-shot decoding.
        refine_iters: cloze refinement rounds at test time (1); 0 skips refinement.

    Pre-trained networks (DPTR) are carried in by ``DecoderTransferHook`` (a custom hook), not
    by the decoder: the former ``pretrained=`` argument is refused with that pointer.
    """

    #: Fields of the data samples that ``decode``'s outputs after the first one fill.
    extra_fields: Tuple[str, ...] = ()

    def __init__(self, dictionary, module_loss: Optional[Dict] = None,
                 postprocessor: Optional[Dict] = None, max_seq_len: int = 25,
                 num_perms: int = 6, decode_ar: bool = True, refine_iters: int = 1,
                 init_cfg=None, **removed):
        if 'pretrained' in removed:
            raise ValueError(
                f'{type(self).__name__}: pretrained= was removed; a pre-trained decoder is carried '
                "in by the hook custom_hooks=[..., dict(type='DecoderTransferHook', "
                "checkpoint=<file>, prefix='decoder.decoder.')] (docs/dptr.md)")
        if removed:
            raise TypeError(f'{type(self).__name__}: unexpected arguments {sorted(removed)}')
        super().__init__(dictionary, module_loss, postprocessor, max_seq_len, init_cfg)
        check_fit_on_load(self)
        self.num_perms, self.decode_ar, self.refine_iters = num_perms, decode_ar, refine_iters

    def build_network(self, geometry: Dict) -> PARSeqNetwork:
        """A network of ``geometry`` (keys of :data:`GEOMETRY`) for the dictionary's tokens."""
        unknown = sorted(set(geometry) - set(GEOMETRY))
        if unknown:
            raise ValueError(f'{type(self).__name__}: decoder=dict(...) sets the network geometry '
                             f'{GEOMETRY}, not {unknown} (the dictionary fixes the tokens, '
                             'max_seq_len the position queries)')
        dic = self.dictionary
        return PARSeqNetwork(num_classes=dic.num_classes - 2, vocab_size=dic.num_classes,
                             bos_id=dic.start_idx, eos_id=dic.end_idx,
                             max_length=self.max_seq_len + 1, **geometry)

    def networks(self) -> Dict[str, PARSeqNetwork]:
        """This decoder's PARSeq networks by attribute name (what a pre-trained one starts)."""
        return {name: module for name, module in self.named_children()
                if isinstance(module, PARSeqNetwork)}

    # ---------------------------------------------------------------- what subclasses define
    def training_logits(self, memory: Memory, batch: PLMBatch) -> Dict[str, torch.Tensor]:
        """Logits ``(K, B, T+1, C)`` of each branch (loss key ``loss_<name>``)."""
        raise NotImplementedError

    def decode(self, memory: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Test-time logits ``(B, L, C)``: the answer first, then one per :attr:`extra_fields`."""
        raise NotImplementedError

    # ---------------------------------------------------------------- shared steps
    @staticmethod
    def teacher_force(network: PARSeqNetwork, memory: Memory, batch: PLMBatch) -> torch.Tensor:
        """``network``'s logits ``(K, B, T+1, C)`` for the batch under its K permutations."""
        return network(batch.tokens, memory, batch.query_mask, batch.content_mask, batch.padding)

    @staticmethod
    def memory(feat: Optional[torch.Tensor], out_enc: Optional[torch.Tensor]) -> torch.Tensor:
        """What the networks attend to: the encoder's output, or the backbone's without one."""
        return feat if out_enc is None else out_enc

    # ---------------------------------------------------------------- MMOCR's interface
    def forward_train(self, feat=None, out_enc=None,
                      data_samples: Sequence[TextRecogDataSample] = None
                      ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        """Branch logits ``{name: (K, B, T+1, C)}`` and targets ``(K, B, T+1)`` (from the third
        permutation on, [E] targets become [P], as in the reference)."""
        memory = self.memory(feat, out_enc)
        batch = self.module_loss.plm_batch(data_samples, self.num_perms, memory.device)
        return self.training_logits(memory, batch), batch.targets

    def forward_test(self, feat=None, out_enc=None, data_samples=None) -> torch.Tensor:
        """Probabilities ``(B, L, C)`` of the answer (fp32 whatever the weights' precision)."""
        return self.decode(self.memory(feat, out_enc))[0].float().softmax(-1)

    def forward(self, feat=None, out_enc=None, data_samples=None):
        if self.training:
            return self.forward_train(feat, out_enc, data_samples)
        return self.forward_test(feat, out_enc, data_samples)

    def loss(self, feat=None, out_enc=None,
             data_samples: Sequence[TextRecogDataSample] = None) -> Dict[str, torch.Tensor]:
        return self.module_loss(*self.forward_train(feat, out_enc, data_samples))

    def predict(self, feat=None, out_enc=None,
                data_samples: Sequence[TextRecogDataSample] = None
                ) -> Sequence[TextRecogDataSample]:
        """Fill ``pred_text`` from the answer and each of :attr:`extra_fields`."""
        answer, *others = self.decode(self.memory(feat, out_enc))
        for field, logits in zip(self.extra_fields, others):
            self.postprocessor(logits.float().softmax(-1), data_samples, field=field)
        return self.postprocessor(answer.float().softmax(-1), data_samples)


@MODELS.register_module()
class PARSeqPostprocessor(BaseTextRecogPostprocessor):
    """Argmax per step, cut at the first [E].

    ``pred_text.item`` is the text and ``pred_text.score`` the per-character probabilities. An
    empty prediction scores ``[p([E])]``, so the mean MMOCR's inferencer reports stays finite.
    """

    def get_single_prediction(self, probs: torch.Tensor, data_sample=None):
        conf, ids = probs.max(-1)
        return self._cut(ids.tolist(), conf.float().tolist())

    def _cut(self, ids, conf):
        end = ids.index(self.dictionary.end_idx) if self.dictionary.end_idx in ids else len(ids)
        return ids[:end], (conf[:end] if end else conf[:1])

    def __call__(self, probs: torch.Tensor, data_samples: Sequence[TextRecogDataSample],
                 field: str = 'pred_text') -> Sequence[TextRecogDataSample]:
        """``probs (N, T, C)`` -> ``data_samples[i].<field>`` (LabelData item, score)."""
        conf, ids = probs.max(-1)
        for sample, row_ids, row_conf in zip(data_samples, ids.tolist(), conf.float().tolist()):
            index, score = self._cut(row_ids, row_conf)
            sample.set_field(LabelData(item=self.dictionary.idx2str(index), score=score), field)
        return data_samples
