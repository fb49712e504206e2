from .clip4str_decoder import CLIP4STRDecoder
from .clip_towers import CLIPTextEncoder, CLIPVisionBackbone
from .dictionary import PARSeqDictionary
from .fmu import FeatureMergeUnit
from .module_losses import PLMModuleLoss
from .orp import ORPPerturbation
from .parseq_decoder import PARSeqDecoder
from .parseq_rec_decoder import PARSeqRecDecoder
from .postprocessors import PARSeqPostprocessor
from .text_memory import FrozenCLIPTextMemory
from .token_preprocessor import TokenIdsDataPreprocessor
from .vit_backbone import ViTBackbone

__all__ = ['CLIP4STRDecoder', 'CLIPTextEncoder', 'CLIPVisionBackbone', 'PARSeqDictionary',
           'FeatureMergeUnit', 'PLMModuleLoss', 'ORPPerturbation', 'PARSeqDecoder',
           'PARSeqRecDecoder', 'PARSeqPostprocessor', 'FrozenCLIPTextMemory',
           'TokenIdsDataPreprocessor', 'ViTBackbone']
