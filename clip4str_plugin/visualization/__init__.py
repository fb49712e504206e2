"""What the model sees and says: attention grids, and test-time drawings of LMDB samples
(``BranchTextRecogVisualizer``; the hook that draws them: ``engine.hooks``)."""
from .attention_grid import draw_attention_grid
from .recog_visualizer import BranchTextRecogVisualizer

__all__ = ['draw_attention_grid', 'BranchTextRecogVisualizer']
