"""A text detector followed by a recognizer, on MMOCR's inferencers."""
import os
from typing import Dict, List, Optional

import cv2
import numpy as np

from clip4str_plugin.datasets.image_io import ImageReadError, read_image_file

from .crops import crop_text, polygon_points, to_bgr


def read_image(path: str) -> np.ndarray:
    """8-bit BGR; grey, alpha and 16-bit images are converted.

    Raises:
        ValueError: naming the file and why, when it is not a regular file, cannot be read as
            an image, or its header claims more pixels than the limit (40 megapixels, or
            ``CLIP4STR_MAX_IMAGE_PIXELS``; :mod:`clip4str_plugin.datasets.image_io`).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path} not found')
    try:
        return to_bgr(read_image_file(path, flags=cv2.IMREAD_UNCHANGED))
    except ImageReadError as err:
        raise ValueError(f'cannot read {path} as an image: {err}') from None


class TextSpotter:
    """Detect text with an MMOCR detector, crop every polygon (rectified or MMOCR's padded
    bounding box), recognise the crops in batches.

    Args:
        det, det_weights: detector config and checkpoint (e.g. DBNet).
        rec, rec_weights: recognizer config and checkpoint (e.g. CLIP4STR).
        device: 'cpu', 'cuda', ...
        rectify: warp each polygon's minimum-area rectangle upright (True) or use MMOCR's
            axis-aligned crop (False).
        crop_pad: with ``rectify``, grow the rectangle by this fraction of its height on every
            side (detectors such as DBNet return tight polygons; recognizers are trained on
            word images with a margin).
        rec_batch_size: crops per recognition batch.
        det_score_thr: polygons scoring lower are dropped.
    """

    def __init__(self, det: str, rec: str, det_weights: Optional[str] = None,
                 rec_weights: Optional[str] = None, device: Optional[str] = None,
                 rectify: bool = True, rec_batch_size: int = 32, det_score_thr: float = 0.0,
                 crop_pad: float = 0.2):
        from mmocr.apis import TextDetInferencer, TextRecInferencer
        self.detector = TextDetInferencer(model=det, weights=det_weights, device=device)
        self.recognizer = TextRecInferencer(model=rec, weights=rec_weights, device=device)
        self.rectify, self.rec_batch_size = rectify, rec_batch_size
        self.det_score_thr, self.crop_pad = det_score_thr, crop_pad

    def __call__(self, image: np.ndarray) -> Dict[str, List]:
        """``image`` (BGR) -> ``polygons``, ``det_scores``, ``texts``, ``rec_scores``; degenerate
        or zero-size polygons are skipped (counted in ``skipped``). Raises ``ValueError`` for an
        image the detector's pipeline cannot resize (e.g. 100000 x 32 pixels: OpenCV refuses the
        zero-pixel side it would get)."""
        try:
            det = self.detector(image, return_datasamples=True, progress_bar=False)
        except cv2.error as err:
            raise ValueError(f'the detector cannot take a {image.shape[1]} x {image.shape[0]} '
                             f'image ({str(err).strip().splitlines()[-1]})') from None
        instances = det['predictions'][0].pred_instances
        polygons, det_scores, crops, skipped = [], [], [], 0
        for polygon, score in zip(instances.polygons, instances.scores.tolist()):
            if score < self.det_score_thr:
                continue
            crop = crop_text(image, polygon, self.rectify, self.crop_pad)
            if crop is None:
                skipped += 1
                continue
            polygons.append([float(v) for v in np.asarray(polygon).reshape(-1)])
            det_scores.append(float(score))
            crops.append(crop)
        texts, rec_scores = [], []
        if crops:
            rec = self.recognizer(crops, batch_size=self.rec_batch_size,
                                  return_datasamples=True, progress_bar=False)
            for sample in rec['predictions']:
                texts.append(sample.pred_text.item)
                rec_scores.append(float(np.mean(sample.pred_text.score))
                                  if len(sample.pred_text.score) else 0.0)
        return dict(polygons=polygons, det_scores=det_scores, texts=texts,
                    rec_scores=rec_scores, skipped=skipped)


def draw(image: np.ndarray, result: Dict[str, List]) -> np.ndarray:
    """The image with every polygon and its text drawn on it."""
    canvas = image.copy()
    for polygon, text in zip(result['polygons'], result['texts']):
        pts = polygon_points(polygon)
        if pts is None:
            continue
        pts = pts.round().astype(np.int32)
        cv2.polylines(canvas, [pts], True, (0, 200, 0), 2)
        x, y = pts[:, 0].min(), max(int(pts[:, 1].min()) - 4, 12)
        cv2.putText(canvas, text, (int(x), y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1,
                    cv2.LINE_AA)
    return canvas
