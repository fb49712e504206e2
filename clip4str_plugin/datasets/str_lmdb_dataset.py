"""Recognition LMDBs with the reference's label rules, counted skips and safe image decoding."""
import os
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger
from mmocr.registry import DATASETS

from ..errors import DataError, DataNotFoundError
from ..text.charsets import CHARSET_36
from ..text.rules import LabelRules
from .image_io import ImageReadError, decode_image
from .label_checks import check_in_dictionary, check_kept, first_few
from .lmdb_io import find_lmdbs, iter_labels, open_lmdb

#: Training stops (one line) once this many samples in a row had no usable image.
MAX_CONSECUTIVE_UNREADABLE = 50


@DATASETS.register_module()
class STRLMDBDataset(BaseDataset):
    """Every recognition LMDB at or below ``data_root/ann_file``, filtered by :class:`LabelRules`.

    Data infos carry ``img_path`` (``<lmdb>/image-%09d``) and ``instances=[{'text'}]``; images
    are decoded (BGR) into ``img`` when an item is fetched, so pipelines start with
    ``LoadImageFromNDArray``. Each worker process opens its own read-only environments.

    Bad data never crashes a run: labels the rules reject and labels that are not UTF-8
    (``undecodable_label``, named in the log) are dropped at load time and the counts logged per
    dataset; an image that does not decode or whose header claims more than
    ``max_image_pixels`` (:mod:`.image_io`) is skipped (training draws another sample, and
    counts it, logged at the 1st, 10th, 100th ...; :data:`MAX_CONSECUTIVE_UNREADABLE` in a row
    stop training with one line) and, with ``verify_images`` (default in test mode), scanned
    for and dropped at load time (counted, the first few named) so that evaluation sees only
    readable images. A dataset left empty, an incomplete or damaged LMDB, and (with
    ``dictionary``) labels using characters the recognizer's dictionary lacks are one-line errors
    naming the dataset, and
    so is a dataset whose rules drop more than half its labels (e.g. Greek labels under the
    default ASCII folding), with an example and the setting to change.

    Args:
        ann_file: an LMDB folder or a folder holding LMDBs (searched recursively).
        charset: characters kept by the label rules (94 for training, 36 for evaluation; a
            dictionary file such as 'charset_greek.txt' for another script).
        max_label_length, remove_whitespace, label_folding: the label rules
            (:class:`~clip4str_plugin.text.rules.LabelRules`; ``label_folding='nfc'`` keeps
            non-ASCII labels, the default 'ascii' is the reference's NFKD to ASCII).
        verify_images: decode every image at load time and drop unreadable ones.
        max_image_pixels: the largest image decoded (None: :func:`.image_io.max_pixels`).
        dictionary: the recognizer's dictionary (a config, e.g. the model's ``dictionary``, or a
            ``Dictionary``) the kept labels must fit; None: not checked.
        name: the dataset's name in logs (default: ``ann_file``).
    """

    def __init__(self, ann_file: str, charset: str = CHARSET_36, max_label_length: int = 25,
                 remove_whitespace: bool = True, label_folding: str = 'ascii',
                 verify_images: Optional[bool] = None, name: Optional[str] = None,
                 dictionary=None, max_image_pixels: Optional[int] = None,
                 data_root: Optional[str] = '', pipeline: Sequence = (),
                 test_mode: bool = False, **kwargs):
        self.rules = LabelRules(charset, max_label_length, remove_whitespace, label_folding)
        self.verify_images = test_mode if verify_images is None else verify_images
        self.name = name or ann_file
        self.dictionary = dictionary
        self.max_image_pixels = max_image_pixels
        self.skipped_images, self.unreadable_in_a_row = 0, 0
        self._envs, self._env_pid = {}, None
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=list(pipeline),
                         test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = self.ann_file
        try:
            self.lmdb_paths = find_lmdbs(root)
        except DataNotFoundError as err:
            raise DataNotFoundError(f'{self.name}: {err}') from None
        data_list, total, undecodable = [], 0, []
        for lmdb_id, path in enumerate(self.lmdb_paths):
            not_utf8 = []
            for index, raw in iter_labels(path, not_utf8):
                total += 1
                label = self.rules(raw)
                if label is None:
                    continue
                data_list.append(dict(lmdb_id=lmdb_id, index=index,
                                      img_path=f'{path}/image-{index:09d}',
                                      instances=[dict(text=label)]))
            total += len(not_utf8)
            undecodable += [f'{path}/label-{index:09d} {raw[:40]!r}' for index, raw in not_utf8]
        unreadable = []
        if self.verify_images:
            readable = [self._read(info) is not None for info in data_list]
            unreadable = [info['img_path'] for info, ok in zip(data_list, readable) if not ok]
            data_list = [info for info, ok in zip(data_list, readable) if ok]
        dropped = dict(self.rules.dropped)
        if undecodable:
            dropped['undecodable_label'] = len(undecodable)
        if unreadable:
            dropped['unreadable_image'] = len(unreadable)
        check_kept(self.name, len(data_list), total, dropped, root, self.rules)
        check_in_dictionary(self.name, [info['instances'][0]['text'] for info in data_list],
                            self.dictionary)
        self.label_stats = dict(total=total, kept=len(data_list), **dropped,
                                **self.rules.altered)
        MMLogger.get_current_instance().info(
            f'{self.name}: kept {len(data_list)} of {total} samples from '
            f'{len(self.lmdb_paths)} LMDB(s); dropped: {dropped or "none"}; labels with '
            f'characters outside the charset removed: {self.rules.altered["chars_removed"]}'
            + (f'; unreadable images: {first_few(unreadable)}' if unreadable else '')
            + (f'; labels not in UTF-8: {first_few(undecodable)}' if undecodable else ''))
        return data_list

    def _env(self, lmdb_id: int):
        if self._env_pid != os.getpid():     # never reuse an environment across fork
            self._envs, self._env_pid = {}, os.getpid()
        if lmdb_id not in self._envs:
            self._envs[lmdb_id] = open_lmdb(self.lmdb_paths[lmdb_id])
        return self._envs[lmdb_id]

    def _decode(self, info: dict) -> np.ndarray:
        """The BGR image of a data info; :class:`ImageReadError` saying why there is none."""
        with self._env(info['lmdb_id']).begin(write=False) as txn:
            raw = txn.get(b'image-%09d' % info['index'])
        if raw is None:
            raise ImageReadError('no image in the LMDB')
        return decode_image(raw, self.max_image_pixels)

    def _read(self, info: dict) -> Optional[np.ndarray]:
        """The BGR image of a data info, or None when missing, undecodable or too large."""
        try:
            return self._decode(info)
        except ImageReadError:
            return None

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        try:
            img = self._decode(info)
        except ImageReadError as err:
            self._skip(info['img_path'], str(err))
            return None
        self.unreadable_in_a_row = 0
        info['img'] = img
        return self.pipeline(info)

    def _skip(self, path: str, why: str) -> None:
        """Count an unusable image: logged at the 1st, 10th, 100th ...; too many in a row stop
        the run (MMEngine would draw up to 1 000 others, then fail without saying why)."""
        self.skipped_images += 1
        self.unreadable_in_a_row += 1
        if self.unreadable_in_a_row >= MAX_CONSECUTIVE_UNREADABLE:
            raise DataError(f'{self.name}: {self.unreadable_in_a_row} samples in a row have no '
                            f'usable image (latest {path}: {why}); the LMDB\'s images are '
                            'damaged or over the pixel limit (max_image_pixels): repair or '
                            'rewrite it')
        if str(self.skipped_images).strip('0') == '1':    # 1, 10, 100, ...
            MMLogger.get_current_instance().warning(
                f'{self.name}: skipped image {path} ({why}); {self.skipped_images} so far in '
                f'process {os.getpid()}')

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_envs'], state['_env_pid'] = {}, None
        return state
