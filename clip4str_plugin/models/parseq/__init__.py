"""PARSeq's network, its MMOCR decoder base, permutations, loss, dictionary and postprocessor
(CLIP4STR and DPTR), and PARSeqRecDecoder (one network as an MMOCR decoder: DPTR's)."""
from .dictionary import PARSeqDictionary
from .loss import PLMModuleLoss
from .network import PARSeqNetwork
from .plm_decoder import PARSeqPostprocessor, PLMDecoder
from .rec_decoder import PARSeqRecDecoder

__all__ = ['PARSeqDictionary', 'PLMModuleLoss', 'PARSeqNetwork', 'PLMDecoder',
           'PARSeqPostprocessor', 'PARSeqRecDecoder']
