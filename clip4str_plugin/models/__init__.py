from .clip4str_decoder import CLIP4STRDecoder
from .clip_towers import CLIPTextEncoder, CLIPVisionBackbone
from .dictionary import PARSeqDictionary
from .module_losses import PLMModuleLoss
from .parseq_decoder import PARSeqDecoder
from .postprocessors import PARSeqPostprocessor

__all__ = ['CLIP4STRDecoder', 'CLIPTextEncoder', 'CLIPVisionBackbone', 'PARSeqDictionary',
           'PLMModuleLoss', 'PARSeqDecoder', 'PARSeqPostprocessor']
