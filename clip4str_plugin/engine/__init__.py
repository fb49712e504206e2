"""Training: CLIP4STR's optimiser groups and schedule, CPU bf16 AMP, launch helpers, training
length (re-timed one-cycle schedules, the schedule check at train start), DPTR's pre-training
hooks (ORP bank, decoder file, decoder transfer); inference precision (weights cast once)."""
from .amp import CPUAutocastOptimWrapper
from .checkpoint_io import AtomicLocalBackend  # noqa: F401  (registers 'atomic_local')
from .hooks import DecoderTransferHook, ORPBankHook, SaveDecoderHook
from .optim import CLIP4STROptimWrapperConstructor, GroupOneCycleLR
from .precision import InferencePrecisionHook, set_inference_precision
from .schedule_check import ScheduleCheckHook, ScheduleError
from .schedules import rescale_one_cycle, set_training_length
from .time_budget import TimeBudgetHook

__all__ = ['CPUAutocastOptimWrapper', 'CLIP4STROptimWrapperConstructor', 'GroupOneCycleLR',
           'ScheduleCheckHook', 'ScheduleError', 'rescale_one_cycle', 'set_training_length',
           'TimeBudgetHook',
           'DecoderTransferHook', 'ORPBankHook', 'SaveDecoderHook', 'InferencePrecisionHook',
           'set_inference_precision']
