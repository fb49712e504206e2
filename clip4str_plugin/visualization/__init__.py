"""What the model sees and says: attention grids, and test-time drawings of LMDB samples."""
from .attention_grid import draw_attention_grid

__all__ = ['draw_attention_grid']
