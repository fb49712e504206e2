"""PARSeq's decoder, permutations, loss, dictionary and postprocessor (CLIP4STR and DPTR)."""
from .dictionary import PARSeqDictionary
from .loss import PLMModuleLoss
from .network import PARSeqDecoder
from .postprocessor import PARSeqPostprocessor

__all__ = ['PARSeqDictionary', 'PLMModuleLoss', 'PARSeqDecoder', 'PARSeqPostprocessor']
