"""DPTR: decoder pre-training with only text (text memory, ORP, FMU, ViT;
its decoder is models.parseq.PARSeqRecDecoder)."""
from .fmu import FeatureMergeUnit
from .orp import ORPPerturbation
from .text_memory import FrozenCLIPTextMemory
from .token_preprocessor import TokenIdsDataPreprocessor
from .vit_backbone import ViTBackbone

__all__ = ['FeatureMergeUnit', 'ORPPerturbation', 'FrozenCLIPTextMemory',
           'TokenIdsDataPreprocessor', 'ViTBackbone']
