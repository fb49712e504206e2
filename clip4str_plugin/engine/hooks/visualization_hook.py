"""MMOCR's VisualizationHook for samples held in LMDBs, drawing into a folder of its own."""
import os.path as osp
import re
from typing import Dict, Optional, Tuple

import mmcv
import mmengine.fileio as fileio
from mmocr.engine.hooks import VisualizationHook
from mmocr.registry import HOOKS

from clip4str_plugin.datasets.str_lmdb_dataset import STRLMDBDataset

#: ``img_path`` of an :class:`STRLMDBDataset` sample: ``<lmdb folder>/image-%09d``
LMDB_KEY = re.compile(r'^(?P<lmdb>.+)[/\\]image-(?P<index>\d{9})$')


def lmdb_sources(dataset) -> Dict[str, Tuple[STRLMDBDataset, int]]:
    """``{lmdb path: (the STRLMDBDataset reading it, its lmdb_id)}`` in ``dataset`` and the
    datasets it wraps (``ConcatDataset.datasets``, ``RepeatDataset.dataset`` ...)."""
    sources, stack = {}, [dataset]
    while stack:
        current = stack.pop()
        if isinstance(current, STRLMDBDataset):
            sources.update((path, (current, i)) for i, path in enumerate(current.lmdb_paths))
        stack.extend(getattr(current, 'datasets', []))
        if getattr(current, 'dataset', None) is not None:
            stack.append(current.dataset)
    return sources


@HOOKS.register_module()
class STRVisualizationHook(VisualizationHook):
    """Draws every test sample (every ``interval``-th validation batch) with the runner's
    visualiser over the image the dataset decoded: an LMDB key (``<lmdb>/image-%09d``, which
    MMOCR's hook would open as a file) is read through the :class:`STRLMDBDataset` holding it
    (its open LMDB, its decoding); anything else as MMOCR reads it.

    Args:
        out_dir: test drawings go to ``<work_dir>/<timestamp>/<out_dir>/<name>.png`` (an
            absolute ``out_dir`` as is): ``<name>`` is ``<lmdb folder>/image-%09d`` for LMDB
            samples, the file's stem otherwise, suffixed ``_2``, ``_3`` ... if taken in the run.
            None: the visualiser's backends (MMOCR's ``vis_data``) or, with ``show``, the
            screen only.
        others: as MMOCR's :class:`VisualizationHook` (``show`` displays each drawing for
            ``wait_time`` seconds).
    """

    def __init__(self, *args, out_dir: Optional[str] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.out_dir, self._run_dir = out_dir, None
        self._sources: Dict[str, Tuple[STRLMDBDataset, int]] = {}
        self._names: set = set()

    def read_rgb(self, img_path: str):
        """The sample's image, RGB: through its dataset for an LMDB key, else as MMOCR reads
        it."""
        match = LMDB_KEY.match(img_path)
        if match and match['lmdb'] in self._sources:
            dataset, lmdb_id = self._sources[match['lmdb']]
            return dataset._read(dict(lmdb_id=lmdb_id, index=int(match['index'])))[..., ::-1]
        return mmcv.imfrombytes(fileio.get(img_path, backend_args=self.backend_args),
                                channel_order='rgb')

    @staticmethod
    def sample_name(img_path: str) -> str:
        """``<lmdb folder>/image-%09d`` for an LMDB sample, the file's stem otherwise."""
        match = LMDB_KEY.match(img_path)
        return (f"{osp.basename(match['lmdb'])}/image-{match['index']}" if match
                else osp.splitext(osp.basename(img_path))[0])

    def _unique(self, name: str) -> str:
        unique, n = name, 1
        while unique in self._names:
            n += 1
            unique = f'{name}_{n}'
        self._names.add(unique)
        return unique

    def draw(self, outputs, step: int, out_dir: Optional[str] = None) -> None:
        """Each output drawn over its image; written under ``out_dir`` (unique names) if given."""
        for output in outputs:
            name = self.sample_name(output.img_path)
            out_file = osp.join(out_dir, self._unique(name) + '.png') if out_dir else None
            self._visualizer.add_datasample(
                name, self.read_rgb(output.img_path), data_sample=output, draw_gt=self.draw_gt,
                draw_pred=self.draw_pred, show=self.show, wait_time=self.wait_time,
                pred_score_thr=self.score_thr, step=step, out_file=out_file)

    def before_val(self, runner) -> None:
        self._sources = lmdb_sources(runner.val_dataloader.dataset)

    def before_test(self, runner) -> None:
        self._sources = lmdb_sources(runner.test_dataloader.dataset)
        self._names.clear()
        if self.out_dir:
            self._run_dir = osp.join(runner.work_dir, runner.timestamp, self.out_dir)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.enable and (runner.iter + batch_idx) % self.interval == 0:
            self.draw(outputs, runner.iter + batch_idx)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.enable:
            self.draw(outputs, batch_idx, self._run_dir)

    def after_test(self, runner) -> None:
        if self._run_dir and self.enable:
            runner.logger.info(f'drawings of the test samples: {self._run_dir}')
