"""Training: CLIP4STR's optimiser groups and schedule, CPU bf16 AMP, crash-safe checkpoints,
every registered hook (:mod:`.hooks`), the inference precision hook among them."""
from .amp import CPUAutocastOptimWrapper
from .checkpoint_io import AtomicLocalBackend  # noqa: F401  (registers 'atomic_local')
from .hooks import (DecoderTransferHook, InferencePrecisionHook, ORPBankHook, SaveDecoderHook,
                    ScheduleCheckHook, ScheduleError, TimeBudgetHook)
from .optim import CLIP4STROptimWrapperConstructor, GroupOneCycleLR
from .schedules import rescale_one_cycle, set_training_length

__all__ = ['CPUAutocastOptimWrapper', 'CLIP4STROptimWrapperConstructor', 'GroupOneCycleLR',
           'ScheduleCheckHook', 'ScheduleError', 'rescale_one_cycle', 'set_training_length',
           'TimeBudgetHook',
           'DecoderTransferHook', 'ORPBankHook', 'SaveDecoderHook', 'InferencePrecisionHook']
