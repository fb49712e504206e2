from .str_lmdb_dataset import LabelRules, STRLMDBDataset
from .text_only import PackCLIPPrompt, TextOnlyDataset
from .transforms import PARSeqRandAugment

__all__ = ['LabelRules', 'STRLMDBDataset', 'PackCLIPPrompt', 'TextOnlyDataset',
           'PARSeqRandAugment']
