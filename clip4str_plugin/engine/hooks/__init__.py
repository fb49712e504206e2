"""Every hook this plugin registers: training length (``TimeBudgetHook``, ``ScheduleCheckHook``),
a stop on a non-finite loss, DPTR's pre-training (ORP bank, decoder file, decoder transfer) and
test-time drawings of LMDB samples; the inference precision (weights cast once before testing)."""
from .decoder_transfer_hook import DecoderTransferHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .inference_precision_hook import InferencePrecisionHook
from .orp_bank_hook import ORPBankHook
from .save_decoder_hook import SaveDecoderHook
from .schedule_check_hook import ScheduleCheckHook, ScheduleError
from .time_budget_hook import TimeBudgetHook
from .visualization_hook import STRVisualizationHook

__all__ = ['DecoderTransferHook', 'FiniteLossHook', 'InferencePrecisionHook',
           'NonFiniteLossError', 'ORPBankHook',
           'SaveDecoderHook', 'ScheduleCheckHook', 'ScheduleError', 'TimeBudgetHook',
           'STRVisualizationHook']
