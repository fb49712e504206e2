"""Training: CLIP4STR's optimiser groups and schedule, CPU bf16 AMP, launch helpers."""
from .amp import CPUAutocastOptimWrapper
from .optim import CLIP4STROptimWrapperConstructor, GroupOneCycleLR

__all__ = ['CPUAutocastOptimWrapper', 'CLIP4STROptimWrapperConstructor', 'GroupOneCycleLR']
