"""Read word crops and show how: the answer, the visual branch's text, the confidences and each
character's attention map (what tools/demo.py shows, usable from scripts as well).

    reader = WordReader(build_recognizer('work_dirs/main_job/iter_3000.pth',
                                         'configs/clip4str/clip4str-tiny_20min_synth-scene.py'))
    words = reader.read([crop_bgr, ...])     # a WordReading per crop
"""
import math
from typing import List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from ..visualization.attention_maps import patch_grid, predict_with_attention
from ..visualization import draw_attention_grid
from ..weights.safe_loading import use_weights_only_loader


class WordReading(NamedTuple):
    """What the recognizer made of one crop.

    ``score``: the mean of ``char_scores`` (NaN for an empty text); ``visual_text`` and
    ``visual_score``: the visual branch alone (CLIP4STR), None for a single-network recognizer;
    ``attention``: the attention grid as an RGB ``uint8`` picture ``(H, W, 3)``, None when the
    decoder does not read image patches.
    """
    text: str
    score: float
    char_scores: List[float]
    visual_text: Optional[str]
    visual_score: Optional[float]
    attention: Optional[np.ndarray]


def mean_score(scores: Sequence[float]) -> float:
    """The mean character confidence; NaN for no characters."""
    return float(np.mean(scores)) if len(scores) else math.nan


def figure_pixels(figure) -> np.ndarray:
    """A matplotlib figure rendered to RGB ``uint8`` ``(H, W, 3)``."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def build_recognizer(checkpoint: str, config, device: Optional[str] = None):
    """MMOCR's ``TextRecInferencer`` for ``config`` (a file or a Config) with the weights of
    ``checkpoint``, loaded weights-only."""
    from mmocr.apis import TextRecInferencer
    use_weights_only_loader()
    inferencer = TextRecInferencer(model=config, weights=checkpoint, device=device)
    inferencer.show_progress = False
    return inferencer


class WordReader:
    """Reads crops with an MMOCR text-recognition inferencer (its pipeline and model), recording
    the attention maps where the model has them (:attr:`no_maps`: why not, else None)."""

    def __init__(self, inferencer):
        self.inferencer = inferencer
        try:
            patch_grid(inferencer.model)
            self.no_maps = None
        except ValueError as err:
            self.no_maps = str(err)

    def read(self, crops: Sequence[np.ndarray]) -> List[WordReading]:
        """A :class:`WordReading` per BGR ``uint8`` crop, in order."""
        if not crops:
            return []
        batch = self.inferencer.collate_fn([self.inferencer.pipeline(c) for c in crops])
        model = self.inferencer.model
        if self.no_maps is None:
            samples, maps = predict_with_attention(model, batch)
        else:
            with torch.no_grad():
                samples = model.test_step(batch)
            maps = [None] * len(samples)
        readings = []
        for inputs, sample, branches in zip(batch['inputs'], samples, maps):
            char_scores = [float(s) for s in sample.pred_text.score]
            visual = sample.get('visual_pred_text')
            picture = None
            if branches is not None:
                shown = inputs.permute(1, 2, 0).numpy()[..., ::-1]     # BGR -> RGB
                picture = figure_pixels(draw_attention_grid(shown, branches))
            readings.append(WordReading(
                sample.pred_text.item, mean_score(char_scores), char_scores,
                None if visual is None else visual.item,
                None if visual is None else mean_score(visual.score), picture))
        return readings
