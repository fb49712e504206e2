"""End-to-end text spotting metric: detection by polygon IoU plus a text match."""
import re
from typing import Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmocr.registry import METRICS
from scipy.optimize import linear_sum_assignment
from shapely.geometry import Polygon

_NON_ALNUM = re.compile('[^0-9a-z]')


def _polygon(flat) -> Polygon:
    poly = Polygon(np.asarray(flat, dtype=np.float64).reshape(-1, 2))
    return poly if poly.is_valid else poly.buffer(0)


def iou_matrix(preds: Sequence, gts: Sequence) -> np.ndarray:
    """``(len(preds), len(gts))`` IoU of flat polygons."""
    out = np.zeros((len(preds), len(gts)))
    gt_polys = [_polygon(g) for g in gts]
    for i, pred in enumerate(preds):
        p = _polygon(pred)
        for j, g in enumerate(gt_polys):
            inter = p.intersection(g).area
            union = p.area + g.area - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def normalize_text(text: str, mode: str) -> str:
    """'alnum': lower-case, letters and digits only (the default); 'exact': unchanged."""
    return _NON_ALNUM.sub('', text.lower()) if mode == 'alnum' else text


def match_image(pred_polys, pred_texts, gt_polys, gt_texts, gt_ignored, iou_thr: float = 0.5,
                ignore_thr: float = 0.5, text_mode: str = 'alnum',
                match_text: bool = True) -> Dict[str, int]:
    """True positives, counted predictions and ground truths of one image.

    Predictions covering an ignored ground truth (intersection over the prediction's area
    >= ``ignore_thr``) are not counted; a prediction and a ground truth match (one to one, the
    assignment maximising the total IoU) when IoU >= ``iou_thr`` and, with ``match_text``, their
    normalised texts are equal.
    """
    care = [j for j, ign in enumerate(gt_ignored) if not ign]
    ignored = [j for j, ign in enumerate(gt_ignored) if ign]
    keep = list(range(len(pred_polys)))
    if ignored and keep:
        polys = [_polygon(p) for p in pred_polys]
        for j in ignored:
            g = _polygon(gt_polys[j])
            keep = [i for i in keep if polys[i].area <= 0
                    or polys[i].intersection(g).area / polys[i].area < ignore_thr]
    tp = 0
    if keep and care:
        iou = iou_matrix([pred_polys[i] for i in keep], [gt_polys[j] for j in care])
        valid = iou >= iou_thr
        if match_text:
            for a, i in enumerate(keep):
                text = normalize_text(pred_texts[i], text_mode)
                for b, j in enumerate(care):
                    valid[a, b] &= text == normalize_text(gt_texts[j], text_mode)
        if valid.any():
            rows, cols = linear_sum_assignment(-np.where(valid, iou, -1.0))
            tp = int(valid[rows, cols].sum())
    return dict(tp=tp, num_pred=len(keep), num_gt=len(care))


@METRICS.register_module()
class E2EHmeanMetric(BaseMetric):
    """Precision, recall and hmean of text spotting (``match_text=False``: of detection).

    Reads ``pred_instances.{polygons, texts}`` and ``gt_instances.{polygons, texts, ignored}``
    (MMOCR's text-spotting samples), or the same keys of plain dicts.

    Args:
        match_iou_thr: IoU needed for a match (0.5).
        ignore_precision_thr: predictions covering an ignored ground truth this much are not
            counted (0.5).
        text_mode: 'alnum' (case-insensitive letters and digits, the default) or 'exact'.
        match_text: require the texts to match (end to end) or not (detection).
    """

    default_prefix = 'e2e'

    def __init__(self, match_iou_thr: float = 0.5, ignore_precision_thr: float = 0.5,
                 text_mode: str = 'alnum', match_text: bool = True,
                 collect_device: str = 'cpu', prefix: str = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if text_mode not in ('alnum', 'exact'):
            raise ValueError(f"text_mode must be 'alnum' or 'exact', not {text_mode!r}")
        self.iou_thr, self.ignore_thr = match_iou_thr, ignore_precision_thr
        self.text_mode, self.match_text = text_mode, match_text

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            pred, gt = sample['pred_instances'], sample['gt_instances']
            gt_polys = list(gt['polygons'])
            ignored = gt.get('ignored')
            ignored = [False] * len(gt_polys) if ignored is None else \
                [bool(x) for x in ignored]
            self.results.append(match_image(
                list(pred['polygons']), list(pred.get('texts', [''] * len(pred['polygons']))),
                gt_polys, list(gt.get('texts', [''] * len(gt_polys))), ignored,
                self.iou_thr, self.ignore_thr, self.text_mode, self.match_text))

    def compute_metrics(self, results: List[Dict]) -> Dict:
        tp = sum(r['tp'] for r in results)
        num_pred = sum(r['num_pred'] for r in results)
        num_gt = sum(r['num_gt'] for r in results)
        precision = tp / num_pred if num_pred else 0.0
        recall = tp / num_gt if num_gt else 0.0
        hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return dict(precision=round(precision, 4), recall=round(recall, 4),
                    hmean=round(hmean, 4))
