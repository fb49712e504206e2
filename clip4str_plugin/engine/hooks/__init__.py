"""The pre-training hooks of DPTR and its fine-tuning: the ORP bank built when missing, the
decoder network written at the end, and carried into a fine-tuning run (optionally frozen); and
a stop on a NaN or infinite loss (every training config)."""
from .decoder_export_hook import SaveDecoderHook
from .decoder_transfer_hook import DecoderTransferHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .orp_bank_hook import ORPBankHook

__all__ = ['DecoderTransferHook', 'FiniteLossHook', 'NonFiniteLossError', 'ORPBankHook',
           'SaveDecoderHook']
