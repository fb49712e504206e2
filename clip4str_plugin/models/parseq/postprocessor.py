"""Greedy decoding of PARSeq-order probabilities into ``pred_text``."""
from typing import Sequence

import torch
from mmengine.structures import LabelData
from mmocr.models.textrecog.postprocessors.base import BaseTextRecogPostprocessor
from mmocr.registry import MODELS
from mmocr.structures import TextRecogDataSample


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
