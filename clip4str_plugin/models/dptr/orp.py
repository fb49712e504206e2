"""DPTR's Offline Randomized Perturbation: natural-image CLIP features mixed into the memory."""
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.model import BaseModule
from mmocr.registry import MODELS

from ...orp_bank_file import load_bank


@MODELS.register_module()
class ORPPerturbation(BaseModule):
    """``memory (B, n, D) -> memory + weight * bank[images][:, tokens]`` in training.

    B distinct bank images (drawn without replacement) and n distinct token positions (in
    random order, shared by the whole batch) per step; the identity at evaluation. The bank
    stays on the CPU; draws use a generator seeded with ``seed + rank``. Used as the
    pre-training recognizer's ``encoder``.

    Args:
        bank: path of the bank (:mod:`~clip4str_plugin.orp_bank_file`; built by
            ``ORPBankHook`` when missing, or by ``tools/extract_orp_bank.py``).
        weight: mixing weight (0.1).
        seed: base seed of the draws.
    """

    def __init__(self, bank: str, weight: float = 0.1, seed: int = 0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.bank_path, self.weight, self.seed = bank, weight, seed
        self._bank: Optional[torch.Tensor] = None
        self._generator: Optional[torch.Generator] = None

    @property
    def bank(self) -> torch.Tensor:
        if self._bank is None:
            self._bank = load_bank(self.bank_path)
        return self._bank

    def sample(self, batch: int, length: int) -> torch.Tensor:
        """``(batch, length, D)`` features: distinct images, distinct shared token positions."""
        bank = self.bank
        if batch > bank.shape[0] or length > bank.shape[1]:
            raise ValueError(f'ORP bank {tuple(bank.shape)} is too small for a batch of {batch} '
                             f'memories of {length} tokens (needs N >= batch, T >= tokens)')
        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed + get_rank())
        images = torch.randperm(bank.shape[0], generator=self._generator)[:batch]
        tokens = torch.randperm(bank.shape[1], generator=self._generator)[:length]
        return bank[images][:, tokens]

    def mix(self, memory: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``memory + noise * weight`` as the reference computes it: the product in the bank's
        precision (an fp16 bank: rounded to fp16), the sum in torch's promoted type (fp32
        memory: fp32; fp16 memory: fp16)."""
        return memory + noise.to(memory.device) * self.weight

    def forward(self, memory: torch.Tensor, data_samples=None) -> torch.Tensor:
        if not self.training:
            return memory
        return self.mix(memory, self.sample(memory.shape[0], memory.shape[1]))
