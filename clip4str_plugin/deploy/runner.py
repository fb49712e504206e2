"""An exported CLIP4STR on ONNX Runtime or OpenVINO: the decode loop around the graphs.

:meth:`CLIP4STRRunner.decode` is :meth:`CLIP4STRDecoder.decode` step for step (image tower;
visual AR decoding with cached keys/values, stopping once every sample has emitted [E]; the
caption of the visual text through CLIP's tokenizer and text tower, each distinct caption once;
cross AR decoding for as many steps; cloze refinement of both branches, re-captioning in
between), with numpy arrays between the graphs. :meth:`CLIP4STRRunner.predict` fills MMOCR data
samples as the PyTorch model's ``predict`` does, with the same postprocessor.
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmocr.structures import TextRecogDataSample

from ..text.captions import format_caption
from ..models.parseq.dictionary import PARSeqDictionary
from ..models.parseq.permutations import cloze_mask
from ..models.parseq.postprocessor import PARSeqPostprocessor
from ..text import clip_tokenizer
from .graphs import kv_names
from .manifest import read_manifest
from .sessions import open_graph


class CLIP4STRRunner:
    """The deployment folder ``model_dir`` (written by ``tools/export_onnx.py``) on ``backend``
    ('onnxruntime' or 'openvino'); ``threads``: the runtime's CPU threads (None: its default).

    ``decode(images (B, 3, H, W) float32, normalised)`` -> (cross, visual) logits ``(B, L, C)``;
    ``predict(images, data_samples=None)`` -> data samples with ``pred_text`` and
    ``visual_pred_text``.
    """

    def __init__(self, model_dir: str, backend: str = 'onnxruntime',
                 threads: Optional[int] = None):
        self.manifest = manifest = read_manifest(model_dir)
        self.backend = backend
        root = manifest['root']
        self.graphs = {name: open_graph(backend, osp.join(root, file), threads)
                       for name, file in manifest['graphs'].items()}
        dec = manifest['decoding']
        self.max_length, self.bos, self.eos = dec['max_length'], dec['bos_id'], dec['eos_id']
        self.decode_ar, self.refine_iters = dec['decode_ar'], dec['refine_iters']
        self.text_length, self.caption_chars = dec['text_length'], dec['caption_chars']
        self.caption_style = dec['caption_style']
        depth = dec['depth']
        self.memory_names, self.cache_names = kv_names('memory', depth), kv_names('cache', depth)
        self.past_names = kv_names('past', depth)
        self.dictionary = PARSeqDictionary(osp.join(root, manifest['dict_file']))
        self.postprocessor = PARSeqPostprocessor(self.dictionary)

    @property
    def input_size(self) -> Tuple[int, int]:
        """``(H, W)`` of the images the image tower reads."""
        return tuple(self.manifest['input']['size'])

    # ---------------------------------------------------------------- one branch
    def memory_kv(self, branch: str, memory: np.ndarray) -> dict:
        return self.graphs[f'{branch}_memory'](memory=memory)

    def first_pass(self, branch: str, memory_kv: dict, num_steps: int) -> np.ndarray:
        """AR logits ``(B, L, C)`` stopping once every sample has produced [E] (L <=
        ``num_steps``), or one-shot logits of ``num_steps`` queries."""
        batch = next(iter(memory_kv.values())).shape[0]
        token = np.full((batch, 1), self.bos, dtype=np.int64)
        if not self.decode_ar:
            none = np.zeros((batch, 1), dtype=bool)
            return self.graphs[f'{branch}_forward'](
                tokens=token, query_mask=np.zeros((num_steps, 1), dtype=bool),
                content_mask=np.zeros((1, 1), dtype=bool), padding=none, **memory_kv)['logits']
        out = self.graphs[f'{branch}_first'](token=token, **memory_kv)
        logits, ended = [out['logits']], np.zeros(batch, dtype=bool)
        for step in range(1, num_steps):
            token = logits[-1].argmax(-1)
            ended |= token[:, 0] == self.eos
            if ended.all():
                break
            past = {p: out[c] for p, c in zip(self.past_names, self.cache_names)}
            out = self.graphs[f'{branch}_step'](token=token, step=np.array(step, dtype=np.int64),
                                                **memory_kv, **past)
            logits.append(out['logits'])
        return np.concatenate(logits, axis=1)

    def refine(self, branch: str, memory_kv: dict, logits: np.ndarray) -> np.ndarray:
        """One cloze refinement (:meth:`PARSeqNetwork.refine`): ``(B, max_length, C)``."""
        bos = np.full((logits.shape[0], 1), self.bos, dtype=np.int64)
        tokens = np.concatenate([bos, logits[:, :-1].argmax(-1)], axis=1)
        padding = np.cumsum(tokens == self.eos, axis=-1) > 0
        length = tokens.shape[1]
        return self.graphs[f'{branch}_forward'](
            tokens=tokens, query_mask=cloze_mask(self.max_length, length).numpy(),
            content_mask=cloze_mask(length, length).numpy(), padding=padding,
            **memory_kv)['logits']

    # ---------------------------------------------------------------- captions
    def captions(self, logits: np.ndarray) -> List[str]:
        """Greedy strings of ``logits (N, L, C)``, cut at [E], in the caption charset and
        style (:meth:`CLIP4STRDecoder.captions`)."""
        captions = []
        for ids in logits.argmax(-1).tolist():
            end = ids.index(self.eos) if self.eos in ids else len(ids)
            captions.append(format_caption(''.join(self.caption_chars[i] for i in ids[:end]),
                                           self.caption_style))
        return captions

    def caption_ids(self, logits: np.ndarray) -> np.ndarray:
        """CLIP BPE ids ``(N, text_length)`` of the captions of ``logits``."""
        return clip_tokenizer.tokenize(self.captions(logits), self.text_length).numpy()

    def encode_captions(self, ids: np.ndarray) -> np.ndarray:
        """Text tower output ``(N, text_length, D)``, each distinct caption encoded once."""
        unique, inverse = np.unique(ids, axis=0, return_inverse=True)
        text = self.graphs['text_tower'](caption_ids=unique)['text_tokens']
        return text[inverse.reshape(-1)]

    def cross_kv(self, image: np.ndarray, ids: np.ndarray) -> dict:
        return self.memory_kv('cross', np.concatenate([image, self.encode_captions(ids)], 1))

    # ---------------------------------------------------------------- the recognizer
    def decode(self, images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Dual predict-and-refine: ``images (B, 3, H, W)`` -> (cross, visual) logits."""
        image = self.graphs['image_tower'](
            images=np.ascontiguousarray(images, dtype=np.float32))['image_tokens']
        visual_kv = self.memory_kv('visual', image)
        visual = self.first_pass('visual', visual_kv, self.max_length)
        ids = self.caption_ids(visual)
        cross_kv = self.cross_kv(image, ids)
        cross = self.first_pass('cross', cross_kv, visual.shape[1])
        for _ in range(self.refine_iters):
            visual = self.refine('visual', visual_kv, visual)
            new_ids = self.caption_ids(visual)
            if not np.array_equal(new_ids, ids):
                cross_kv, ids = self.cross_kv(image, new_ids), new_ids
            cross = self.refine('cross', cross_kv, cross)
        return cross, visual

    def predict(self, images: np.ndarray,
                data_samples: Optional[Sequence[TextRecogDataSample]] = None
                ) -> Sequence[TextRecogDataSample]:
        """``pred_text`` (the answer) and ``visual_pred_text`` of each image, as the PyTorch
        model's ``predict``; new data samples when none are given."""
        return self.postprocess(*self.decode(images), data_samples)

    def postprocess(self, cross: np.ndarray, visual: np.ndarray,
                    data_samples: Optional[Sequence[TextRecogDataSample]] = None
                    ) -> Sequence[TextRecogDataSample]:
        """Data samples with the texts and scores of :meth:`decode`'s logits."""
        if data_samples is None:
            data_samples = [TextRecogDataSample() for _ in range(len(cross))]
        self.postprocessor(torch.from_numpy(visual).softmax(-1), data_samples,
                           field='visual_pred_text')
        return self.postprocessor(torch.from_numpy(cross).softmax(-1), data_samples)
