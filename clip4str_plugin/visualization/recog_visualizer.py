"""MMOCR's recognition visualiser with the visual branch's text beside the answer."""
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmocr.registry import VISUALIZERS
from mmocr.visualization import TextRecogLocalVisualizer

#: data-sample field, row label, colour attribute of the visualiser
ROWS = (('gt_text', 'gt', 'gt_color'), ('pred_text', 'pred', 'pred_color'),
        ('visual_pred_text', 'visual', 'visual_color'))


@VISUALIZERS.register_module()
class BranchTextRecogVisualizer(TextRecogLocalVisualizer):
    """The image (64 pixels high), then a row per text: ``gt: ...`` (``gt_color``), ``pred: ...``
    (the answer, ``pred_color``) and, for CLIP4STR, ``visual: ...`` (the visual branch alone,
    ``visual_color``). Samples without ``visual_pred_text`` get MMOCR's rows only.

    ``add_datasample`` shows the drawing (``show``), writes it to ``out_file``, or, with
    neither, adds it to the visualisation backends (MMOCR's behaviour in validation).
    """

    def __init__(self, name: str = 'visualizer', visual_color='b', **kwargs):
        super().__init__(name=name, **kwargs)
        self.visual_color = visual_color

    def _text_row(self, image: np.ndarray, text: str, color) -> np.ndarray:
        """``text`` centred on a white canvas the size of ``image``."""
        height, width = image.shape[:2]
        self.set_image(np.full_like(image, 255))
        self.draw_texts(text, np.array([width / 2, height / 2]), colors=color,
                        font_sizes=min(0.5 * width / (len(text) + 1), 0.5 * height),
                        vertical_alignments='center', horizontal_alignments='center',
                        font_families=self.font_families, font_properties=self.font_properties)
        return self.get_image()

    def add_datasample(self, name: str, image: np.ndarray, data_sample=None,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, pred_score_thr: Optional[float] = None,
                       out_file: Optional[str] = None, step: int = 0) -> np.ndarray:
        """Draw ``image`` (RGB) and the sample's texts; returns the drawing (RGB)."""
        height, width = image.shape[:2]
        image = cv2.resize(image, (max(1, round(64 * width / height)), 64))
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        rows = [image]
        for field, label, color in ROWS:
            wanted = draw_gt if field == 'gt_text' else draw_pred
            text = data_sample.get(field) if data_sample is not None else None
            if wanted and text is not None and 'item' in text:
                rows.append(self._text_row(image, f'{label}: {text.item}', getattr(self, color)))
        drawn = np.concatenate(rows, axis=0)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        elif not show:
            self.add_image(name, drawn, step)
        self.set_image(drawn)
        return drawn
