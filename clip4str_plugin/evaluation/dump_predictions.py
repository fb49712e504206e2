"""Every test sample's prediction in one pickle (MMEngine's DumpResults) and a readable JSON."""
import json
import os.path as osp

import numpy as np
from mmengine.evaluator import DumpResults
from mmengine.fileio import dump
from mmengine.logging import print_log
from mmocr.registry import METRICS


@METRICS.register_module()
class DumpTextPredictions(DumpResults):
    """MMEngine's ``DumpResults`` (a pickle of the data samples as dicts: ``img_path``,
    ``gt_text``, ``pred_text``, ``visual_pred_text`` ...) that keeps every dataset of a
    multi-dataset evaluator, plus ``<out_file_path without extension>.json``: per sample
    ``img_path``, ``gt``, ``pred``, ``score`` (mean character probability) and, when the model
    has one, ``visual_pred``.

    MMOCR's ``MultiDatasetsEvaluator`` computes a metric once per dataset slice, so plain
    ``DumpResults`` would leave only the last dataset in the file; here the slices of one
    evaluation are appended and the files rewritten with all of them.
    """

    def process(self, data_batch, predictions) -> None:
        super().process(data_batch, predictions)
        self._dumped = None            # a new evaluation: its first slice starts the files

    def compute_metrics(self, results: list) -> dict:
        if getattr(self, '_dumped', None) is None:
            self._dumped = []
        self._dumped.extend(results)
        dump(self._dumped, self.out_file_path)
        json_path = osp.splitext(self.out_file_path)[0] + '.json'
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump([readable(r) for r in self._dumped], f, ensure_ascii=False, indent=1)
        print_log(f'{len(self._dumped)} predictions saved to {self.out_file_path} and '
                  f'{json_path}', logger='current')
        return {}


def readable(result: dict) -> dict:
    """The JSON entry of one data sample (as a dict)."""
    pred = result.get('pred_text', {})
    entry = dict(img_path=result.get('img_path'), gt=result.get('gt_text', {}).get('item'),
                 pred=pred.get('item'),
                 score=round(float(np.mean(pred['score'])), 6) if len(pred.get('score', ()))
                 else None)
    if 'visual_pred_text' in result:
        entry['visual_pred'] = result['visual_pred_text'].get('item')
    return entry
