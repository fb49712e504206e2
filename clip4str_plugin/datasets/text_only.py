"""DPTR's text-only data: labels from recognition LMDBs or word lists, and CLIP prompts."""
import os
from typing import List, Optional, Sequence

import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger
from mmengine.structures import LabelData
from mmocr.registry import DATASETS, TRANSFORMS
from mmocr.structures import TextRecogDataSample

from ..errors import DataError, DataNotFoundError
from ..text.charsets import CHARSET_94
from ..models.clip.towers import UNCUT, check_caption_style, encode, format_caption
from ..text.rules import LabelRules
from .label_checks import check_in_dictionary, check_kept, first_few
from .label_files import read_lines
from .lmdb_io import find_lmdbs, iter_labels, relative_path_hint


@DATASETS.register_module()
class TextOnlyDataset(BaseDataset):
    """Labels only (no image is ever read): from every LMDB at or below ``ann_file``, or from a
    word-list file (``.txt``, one label per line), filtered by the reference's rules in
    OpenOCR's ``DPTRLabelEncode`` order (``label_folding`` applied: NFKD to ASCII by default,
    'nfc' keeps other scripts; then whitespace removed; 1-25 characters, characters outside
    ``charset`` removed, empty dropped; counts logged).
    Data infos: ``{'instances': [{'text': label}]}``.

    LMDB labels that are not UTF-8 are dropped, counted (``undecodable_label``) and named in the
    log. A word list that is not UTF-8, a dataset whose rules drop more than half its labels and
    (with ``dictionary``, the recognizer's dictionary as a config or instance) labels using
    characters the dictionary lacks are one-line errors naming the dataset or file.
    """

    def __init__(self, ann_file: str, charset: str = CHARSET_94, max_label_length: int = 25,
                 name: Optional[str] = None, dictionary=None, label_folding: str = 'ascii',
                 data_root: Optional[str] = '', pipeline: Sequence = (), **kwargs):
        self.rules = LabelRules(charset, max_label_length, label_folding=label_folding,
                                fold_first=True)
        self.name = name or ann_file
        self.dictionary = dictionary
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=list(pipeline),
                         **kwargs)

    def _raw_labels(self):
        if os.path.isfile(self.ann_file):
            yield from read_lines(self.ann_file)
            return
        if not os.path.exists(self.ann_file):
            raise DataNotFoundError(
                f'{self.name}: text corpus (a word list or LMDBs) not found: {self.ann_file}'
                + relative_path_hint(self.ann_file))
        try:
            paths = find_lmdbs(self.ann_file)
        except DataNotFoundError as err:
            raise DataNotFoundError(f'{self.name}: {err}') from None
        for path in paths:
            not_utf8 = []
            yield from (label for _, label in iter_labels(path, not_utf8))
            self.undecodable += [f'{path}/label-{index:09d} {raw[:40]!r}'
                                 for index, raw in not_utf8]

    def load_data_list(self) -> List[dict]:
        data_list, total, self.undecodable = [], 0, []
        for raw in self._raw_labels():
            total += 1
            label = self.rules(raw)
            if label is not None:
                data_list.append(dict(instances=[dict(text=label)]))
        dropped = dict(self.rules.dropped)
        if self.undecodable:
            dropped['undecodable_label'] = len(self.undecodable)
            total += len(self.undecodable)
        check_kept(self.name, len(data_list), total, dropped, self.ann_file, self.rules)
        check_in_dictionary(self.name, [d['instances'][0]['text'] for d in data_list],
                            self.dictionary)
        MMLogger.get_current_instance().info(
            f'{self.name}: kept {len(data_list)} of {total} labels; dropped: '
            f'{dropped or "none"}; characters outside the charset removed from '
            f'{self.rules.altered["chars_removed"]}'
            + (f'; labels not in UTF-8: {first_few(self.undecodable)}' if self.undecodable
               else ''))
        return data_list


@TRANSFORMS.register_module()
class PackCLIPPrompt(BaseTransform):
    """Pack a text-only sample: ``inputs`` = CLIP BPE ids ``(context_length,)`` of
    ``template.format(label)`` with the label written in ``caption_style``
    (:mod:`clip4str_plugin.models.clip.towers`; DPTR: ``a photo of a '<label>'``, plain, 77 tokens;
    CLIP lower-cases it), ``data_samples`` = a :class:`TextRecogDataSample` whose ``gt_text`` is
    the label (the decoder's targets, case kept).

    A prompt longer than ``context_length`` is a :class:`DataError` naming the label (CLIP's
    truncation would cut the label's end while the targets keep it): bound the corpus's
    ``max_label_length`` so that every prompt fits.
    """

    def __init__(self, template: str = "a photo of a '{}'", context_length: int = 77,
                 caption_style: str = 'plain'):
        self.template, self.context_length = template, context_length
        self.caption_style = check_caption_style(caption_style)

    def transform(self, results: dict) -> dict:
        label = results['instances'][0]['text']
        sample = TextRecogDataSample(metainfo=dict(img_path=None, valid_ratio=1.0))
        sample.gt_text = LabelData(item=label)
        prompt = format_caption(label, self.caption_style, self.template)
        ids = encode(prompt, UNCUT)          # one BPE pass: checked, then padded
        if len(ids) > self.context_length:
            raise DataError(f'PackCLIPPrompt: the prompt {prompt!r} needs {len(ids)} tokens, '
                            f'more than context_length={self.context_length}; lower the '
                            "corpus's max_label_length so that every prompt fits")
        inputs = torch.zeros(self.context_length, dtype=torch.long)
        inputs[:len(ids)] = torch.tensor(ids)
        return dict(inputs=inputs, data_samples=sample)
