"""Recognition data: STR LMDBs, DPTR's text-only data and ORP feature bank, RandAugment."""
from .image_arrays import CheckImageArray
from .str_lmdb_dataset import STRLMDBDataset
from .text_only import PackCLIPPrompt, TextOnlyDataset
from .transforms import PARSeqRandAugment

__all__ = ['CheckImageArray', 'STRLMDBDataset', 'PackCLIPPrompt', 'TextOnlyDataset',
           'PARSeqRandAugment']
