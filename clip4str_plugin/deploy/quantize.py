"""int8: ONNX Runtime's dynamic quantisation of an exported folder's graphs.

Weights of the matrix products become int8 (per output channel), activations are quantised on
the fly per tensor (``onnxruntime.quantization.quantize_dynamic``); the result is a deployment
folder of its own (same manifest, ``precision: int8``), run by :class:`.runner.CLIP4STRRunner`
on ONNX Runtime or OpenVINO like the fp32 one. The decode loop is unchanged, so int8 can change a
string only where it changes an argmax; :func:`string_agreement` measures how often.
"""
import logging
import os
import os.path as osp
import shutil
from typing import Dict, Sequence

from rapidfuzz.distance import Levenshtein

from .errors import DeployError
from .manifest import read_manifest, write_manifest
from .sessions import import_runtime


def quantize_folder(src: str, dst: str) -> Dict:
    """Write the int8 version of the fp32 deployment folder ``src`` into ``dst``; returns its
    manifest."""
    manifest = read_manifest(src)
    if manifest['precision'] != 'fp32':
        raise DeployError(f'{src} holds {manifest["precision"]} graphs; quantise the fp32 export')
    import_runtime('onnxruntime')
    from onnxruntime.quantization import QuantType, quantize_dynamic
    os.makedirs(dst, exist_ok=True)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)   # its advice to pre-process, printed for every graph
    try:
        for file in manifest['graphs'].values():
            quantize_dynamic(osp.join(src, file), osp.join(dst, file), per_channel=True,
                             weight_type=QuantType.QInt8,
                             op_types_to_quantize=['MatMul', 'Gemm'])
    finally:
        root.setLevel(level)
    shutil.copyfile(osp.join(src, manifest['dict_file']), osp.join(dst, manifest['dict_file']))
    manifest = {k: v for k, v in manifest.items() if k != 'root'}
    manifest.update(precision='int8', quantization=dict(
        method='onnxruntime.quantization.quantize_dynamic', weights='int8 per channel',
        activations='uint8 per tensor, dynamic', ops=['MatMul', 'Gemm']))
    write_manifest(dst, manifest)
    return manifest


def string_agreement(reference: Sequence[str], other: Sequence[str]) -> Dict[str, float]:
    """How far ``other`` reads as ``reference``: ``strings``, the share of identical strings,
    and ``one_minus_ned``, the mean normalised Levenshtein similarity (1 - NED)."""
    if len(reference) != len(other) or not reference:
        raise ValueError('string_agreement compares two lists of the same, non-zero length')
    same = sum(a == b for a, b in zip(reference, other)) / len(reference)
    similar = sum(Levenshtein.normalized_similarity(a, b) for a, b in zip(reference, other))
    return dict(strings=same, one_minus_ned=similar / len(reference))
