"""Permutation language modelling loss: token cross-entropy over every permutation."""
from typing import Dict, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmocr.models.textrecog.module_losses import BaseTextRecogModuleLoss
from mmocr.registry import MODELS
from mmocr.structures import TextRecogDataSample

from .permutations import generate_permutations, permutation_masks


class PLMBatch(NamedTuple):
    """What a PARSeq decoder needs for one training step under K permutations."""
    tokens: torch.Tensor        # (B, T+1) input [B] c_1 .. c_T (PAD / EOS beyond each label)
    padding: torch.Tensor       # (B, T+1) content positions hidden from every query
    query_mask: torch.Tensor    # (K, T+1, T+1)
    content_mask: torch.Tensor  # (K, T+1, T+1)
    targets: torch.Tensor       # (K, B, T+1); from the third order on, [E] targets are [P]


@MODELS.register_module()
class PLMModuleLoss(BaseTextRecogModuleLoss):
    """CE summed over the non-pad targets of all permutations, divided by their count.

    This is the reference's ``sum_k n_k * CE_k / sum_k n_k``: one flat mean. Each branch gets its
    own key (``loss_visual``, ``loss_cross``), the cross one times ``cross_weight``; their sum is
    the reference's loss.

    Args:
        dictionary: a :class:`PARSeqDictionary` (config or instance).
        max_seq_len: longest label (25).
        cross_weight: weight of every branch other than ``visual`` (reference ``cross_loss_w``).
        padded_orders: draw the orders over ``max_seq_len`` characters, cut to the batch
            (OpenOCR's DPTR pads labels to 25: always K orders); False: over the batch's longest
            label (PARSeq, CLIP4STR: a batch of 1-character labels trains on one order).
    """

    def __init__(self, dictionary, max_seq_len: int = 25, cross_weight: float = 1.0,
                 padded_orders: bool = False, **kwargs):
        super().__init__(dictionary, max_seq_len, pad_with='padding', **kwargs)
        self.cross_weight = cross_weight
        self.padded_orders = padded_orders

    def get_targets(self, data_samples: Sequence[TextRecogDataSample]) -> torch.Tensor:
        """``(B, T + 2)`` ids [B] c_1 .. c_n [E] [P].., T the longest label of the batch."""
        dic = self.dictionary
        labels = []
        for sample in data_samples:
            text = sample.gt_text.item
            if self.letter_case in ('upper', 'lower'):
                text = getattr(text, self.letter_case)()
            if not 0 < len(text) <= self.max_seq_len:
                raise ValueError(f'label {text!r} has {len(text)} characters; training needs '
                                 f'1..{self.max_seq_len} (filter labels in the dataset)')
            labels.append(dic.str2idx(text))
        width = max(map(len, labels)) + 2
        targets = torch.full((len(labels), width), dic.padding_idx, dtype=torch.long)
        for row, ids in enumerate(labels):
            targets[row, :len(ids) + 2] = torch.tensor([dic.start_idx] + ids + [dic.end_idx])
        return targets

    def plm_batch(self, data_samples: Sequence[TextRecogDataSample], num_perms: int,
                  device) -> PLMBatch:
        """Targets, K permutation orders (from the batch's longest label) and their masks."""
        dic = self.dictionary
        tgt = self.get_targets(data_samples).to(device)
        perms = generate_permutations(tgt.shape[1] - 2, num_perms, np.random, device,
                                      self.max_seq_len if self.padded_orders else None)
        content_mask, query_mask = permutation_masks(perms)
        tokens, targets = tgt[:, :-1], tgt[:, 1:].repeat(len(perms), 1, 1)
        targets[2:][targets[2:] == dic.end_idx] = dic.padding_idx
        padding = (tokens == dic.padding_idx) | (tokens == dic.end_idx)
        return PLMBatch(tokens, padding, query_mask, content_mask, targets)

    def forward(self, logits: Dict[str, torch.Tensor], targets: torch.Tensor) -> Dict:
        """``logits[name] (K, B, T, C)``, ``targets (K, B, T)`` -> ``{'loss_<name>': ...}``."""
        losses = {}
        for name, branch in logits.items():
            loss = F.cross_entropy(branch.flatten(0, 2).float(), targets.flatten(),
                                   ignore_index=self.dictionary.padding_idx)
            losses[f'loss_{name}'] = loss if name == 'visual' else self.cross_weight * loss
        return losses
