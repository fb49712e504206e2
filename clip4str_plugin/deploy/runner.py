"""An exported CLIP4STR on ONNX Runtime or OpenVINO: the PyTorch decode loop around the graphs.

:class:`GraphBranch` and :class:`GraphSteps` give the exported graphs the steps of the PyTorch
modules (:class:`PARSeqNetwork`'s ``step`` / ``read_all``, :class:`CLIP4STRDecoder`'s
``image_kv``, ``caption_ids``, ``encode_text``, ``cross_kv``), so that
:meth:`CLIP4STRRunner.decode` is :func:`~clip4str_plugin.models.clip4str.decoder.dual_decode`
itself: the same AR loop, early stop, captions and refinement, with numpy arrays only inside the
graphs' calls. :meth:`CLIP4STRRunner.predict` fills MMOCR data samples as the PyTorch model's
``predict`` does, with the same postprocessor.
"""
import contextlib
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmocr.structures import TextRecogDataSample

from ..models.clip.towers import tokenize
from ..models.clip4str.decoder import decoded_captions, dual_decode
from ..models.parseq.dictionary import PARSeqDictionary
from ..models.parseq.plm_decoder import PARSeqPostprocessor
from .graphs import kv_names
from .manifest import read_manifest
from .sessions import open_graph


@contextlib.contextmanager
def one_torch_thread():
    """PyTorch on one thread meanwhile: around the graphs it only handles tiny tensors (tokens,
    masks, logits), and its thread pool would compete for the cores with the runtime's."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _numpy(tensor: Optional[torch.Tensor], default: np.ndarray) -> np.ndarray:
    return default if tensor is None else tensor.numpy()


class GraphBranch:
    """One exported PARSeq network (graphs ``<branch>_first``, ``_step``, ``_forward``) with the
    ``step`` / ``read_all`` of :class:`PARSeqNetwork`; keys/values and the cache are the graphs'
    named numpy arrays."""

    def __init__(self, graphs: Dict, branch: str, decoding: Dict):
        self.graphs, self.branch = graphs, branch
        self.max_length, self.bos_id, self.eos_id = (decoding[key] for key in
                                                     ('max_length', 'bos_id', 'eos_id'))
        depth = decoding['depth']
        self.cache_names, self.past_names = kv_names('cache', depth), kv_names('past', depth)

    def step(self, token: torch.Tensor, position: int, memory_kv: Dict,
             cache: Optional[Dict] = None) -> Tuple[torch.Tensor, Dict]:
        if position == 0:
            out = self.graphs[f'{self.branch}_first'](token=token.numpy(), **memory_kv)
        else:
            past = {p: cache[c] for p, c in zip(self.past_names, self.cache_names)}
            out = self.graphs[f'{self.branch}_step'](
                token=token.numpy(), step=np.array(position, dtype=np.int64), **memory_kv, **past)
        return torch.from_numpy(out['logits']), out

    def read_all(self, tokens: torch.Tensor, memory_kv: Dict,
                 query_mask: Optional[torch.Tensor] = None,
                 content_mask: Optional[torch.Tensor] = None,
                 padding: Optional[torch.Tensor] = None,
                 num_queries: Optional[int] = None) -> torch.Tensor:
        (batch, length), queries = tokens.shape, num_queries or self.max_length
        return torch.from_numpy(self.graphs[f'{self.branch}_forward'](
            tokens=tokens.numpy(),
            query_mask=_numpy(query_mask, np.zeros((queries, length), dtype=bool)),
            content_mask=_numpy(content_mask, np.zeros((length, length), dtype=bool)),
            padding=_numpy(padding, np.zeros((batch, length), dtype=bool)),
            **memory_kv)['logits'])


class GraphSteps:
    """The exported graphs as :func:`dual_decode`'s steps (see :class:`CLIP4STRDecoder`). The
    exported cross memory graph projects ``[image; text]`` whole, so the image part of the
    cross keys/values is the image itself until the caption is known."""

    def __init__(self, graphs: Dict, decoding: Dict):
        self.graphs = graphs
        self.visual_decoder, self.cross_decoder = (GraphBranch(graphs, branch, decoding)
                                                   for branch in ('visual', 'cross'))
        self.decode_ar, self.refine_iters = decoding['decode_ar'], decoding['refine_iters']
        self.answer = decoding.get('answer', 'cross')
        self.eos_id, self.text_length = decoding['eos_id'], decoding['text_length']
        self.caption_chars, self.caption_style = (decoding['caption_chars'],
                                                  decoding['caption_style'])

    def image_kv(self, image: torch.Tensor) -> Tuple[Dict, torch.Tensor]:
        return self.graphs['visual_memory'](memory=image.numpy()), image

    def caption_ids(self, logits: torch.Tensor) -> torch.Tensor:
        return tokenize(self.captions(logits), self.text_length)

    def captions(self, logits: torch.Tensor):
        return decoded_captions(logits, self.caption_chars, self.eos_id, self.caption_style)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.graphs['text_tower'](caption_ids=ids.numpy())['text_tokens'])

    def cross_kv(self, image: torch.Tensor, image_kv: torch.Tensor, text: torch.Tensor) -> Dict:
        return self.graphs['cross_memory'](memory=torch.cat([image, text], 1).numpy())


class CLIP4STRRunner:
    """The deployment folder ``model_dir`` (written by ``tools/export_onnx.py``) on ``backend``
    ('onnxruntime' or 'openvino'); ``threads``: the runtime's CPU threads (None: its default).

    ``decode(images (B, 3, H, W) float32, normalised)`` -> (answer, visual) logits
    ``(B, L, C)``;
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
        self.steps = GraphSteps(self.graphs, manifest['decoding'])
        self.max_length = manifest['decoding']['max_length']
        self.refine_iters = self.steps.refine_iters
        self.dictionary = PARSeqDictionary(osp.join(root, manifest['dict_file']))
        self.postprocessor = PARSeqPostprocessor(self.dictionary)

    @property
    def input_size(self) -> Tuple[int, int]:
        """``(H, W)`` of the images the image tower reads."""
        return tuple(self.manifest['input']['size'])

    def decode(self, images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Dual predict-and-refine: ``images (B, 3, H, W)`` -> (answer, visual) logits."""
        image = self.graphs['image_tower'](
            images=np.ascontiguousarray(images, dtype=np.float32))['image_tokens']
        with one_torch_thread():
            return tuple(logits.numpy() for logits in dual_decode(self.steps,
                                                                  torch.from_numpy(image)))

    def predict(self, images: np.ndarray,
                data_samples: Optional[Sequence[TextRecogDataSample]] = None
                ) -> Sequence[TextRecogDataSample]:
        """``pred_text`` (the answer) and ``visual_pred_text`` of each image, as the PyTorch
        model's ``predict``; new data samples when none are given."""
        return self.postprocess(*self.decode(images), data_samples)

    def postprocess(self, answer: np.ndarray, visual: np.ndarray,
                    data_samples: Optional[Sequence[TextRecogDataSample]] = None
                    ) -> Sequence[TextRecogDataSample]:
        """Data samples with the texts and scores of :meth:`decode`'s logits."""
        if data_samples is None:
            data_samples = [TextRecogDataSample() for _ in range(len(answer))]
        with one_torch_thread():
            self.postprocessor(torch.from_numpy(visual).softmax(-1), data_samples,
                               field='visual_pred_text')
            return self.postprocessor(torch.from_numpy(answer).softmax(-1), data_samples)
