"""The pre-training hooks of DPTR and its fine-tuning: the ORP bank built when missing, the
decoder network written at the end, and carried into a fine-tuning run (optionally frozen)."""
from .decoder_export_hook import SaveDecoderHook
from .decoder_transfer_hook import DecoderTransferHook
from .orp_bank_hook import ORPBankHook

__all__ = ['DecoderTransferHook', 'ORPBankHook', 'SaveDecoderHook']
