"""DPTR: decoder pre-training with only text (text memory, ORP, FMU, ViT, a PARSeq decoder)."""
from .fmu import FeatureMergeUnit
from .orp import ORPPerturbation
from .rec_decoder import PARSeqRecDecoder
from .text_memory import FrozenCLIPTextMemory
from .token_preprocessor import TokenIdsDataPreprocessor
from .vit_backbone import ViTBackbone

__all__ = ['FeatureMergeUnit', 'ORPPerturbation', 'PARSeqRecDecoder', 'FrozenCLIPTextMemory',
           'TokenIdsDataPreprocessor', 'ViTBackbone']
