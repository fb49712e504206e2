"""What the model sees and says: attention grids, and test-time drawings of LMDB samples
(``STRVisualizationHook``, ``BranchTextRecogVisualizer``, registered in MMOCR's registries)."""
from .attention_grid import draw_attention_grid
from .recog_visualizer import BranchTextRecogVisualizer
from .vis_hook import STRVisualizationHook

__all__ = ['draw_attention_grid', 'BranchTextRecogVisualizer', 'STRVisualizationHook']
