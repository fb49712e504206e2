from . import checkpoint  # noqa: F401  (weights-only loader for MMEngine)
from .amp import CPUAutocastOptimWrapper
from .optim import CLIP4STROptimWrapperConstructor, GroupOneCycleLR

__all__ = ['CPUAutocastOptimWrapper', 'CLIP4STROptimWrapperConstructor', 'GroupOneCycleLR']
