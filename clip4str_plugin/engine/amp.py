"""Mixed precision on CPU: bf16 autocast around the forward pass (no loss scaling needed)."""
import logging
from contextlib import contextmanager

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmocr.registry import OPTIM_WRAPPERS

from ..compute.precision import bf16_is_fast, bf16_reason


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose forward runs under ``torch.autocast('cpu', bf16)``;
    MMEngine's ``AmpOptimWrapper`` is GPU-only. ``tools/train.py --amp`` picks it on CPU."""

    def __init__(self, dtype: str = 'bfloat16', **kwargs):
        super().__init__(**kwargs)
        self.dtype = getattr(torch, dtype)
        fast = bf16_is_fast('cpu')
        print_log(f'training precision: {dtype} autocast on CPU ({bf16_reason("cpu")})',
                  logger='current', level=logging.INFO if fast else logging.WARNING)

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.dtype):
            yield
