"""``.safetensors`` files that keep a mostly-zero table as its non-zero rows (CLIP's token
embedding read by spelled captions: 38 of 49408 rows, ``tools/export_clip.py``).

A table ``NAME`` of dense shape ``(N, *row)`` is stored as ``NAME.rows`` (int64 ``(k,)``, unique
indices in ``[0, N)``), ``NAME.values`` (``(k, *row)``) and the metadata entry ``sparse_rows``
(JSON ``{"NAME": [N, *row], ...}``). Reading puts the rows back into zeros.
"""
import json
from typing import Dict, Mapping, Sequence

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from ..fileio import write_atomically
from .errors import CheckpointReadError

SPARSE_ROWS_KEY = 'sparse_rows'    # the metadata entry: JSON {name: dense shape}


class SparseRowsError(CheckpointReadError):
    """A sparse-row entry whose rows, values and dense shape do not fit together."""


def save_file_sparse_rows(state: Mapping[str, torch.Tensor], path: str,
                          metadata: Mapping[str, str], names: Sequence[str]) -> None:
    """Write ``state`` to ``path`` (``.safetensors``, atomically) with ``metadata``; each table
    of ``names`` (``(N, *row)``) goes as its non-zero rows when that is smaller on disk."""
    tensors, shapes = dict(state), {}
    for name in names:
        table = tensors[name]
        kept = torch.nonzero(table.reshape(len(table), -1).ne(0).any(1)).flatten()
        row_bytes = table[0].numel() * table.element_size()
        if len(kept) * (row_bytes + 8) >= len(table) * row_bytes:
            continue
        del tensors[name]
        tensors[name + '.rows'] = kept.to(torch.int64)
        tensors[name + '.values'] = table[kept].contiguous()
        shapes[name] = list(table.shape)
    metadata = dict(metadata)
    if shapes:
        metadata[SPARSE_ROWS_KEY] = json.dumps(shapes)
    write_atomically(path, safetensors_bytes(tensors, metadata=metadata))


def load_file_sparse_rows(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of the ``.safetensors`` file ``path``, sparse-row tables made dense."""
    with safe_open(path, framework='pt') as f:
        meta = (f.metadata() or {}).get(SPARSE_ROWS_KEY)
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    if meta is None:
        return tensors
    for name, shape in _dense_shapes(path, meta).items():
        rows, values = (tensors.pop(name + suffix, None) for suffix in ('.rows', '.values'))
        tensors[name] = _expand(path, name, shape, rows, values)
    return tensors


def _dense_shapes(path: str, meta: str) -> Dict[str, list]:
    try:
        shapes = json.loads(meta)
    except ValueError:
        shapes = None
    if not isinstance(shapes, dict) or not all(
            isinstance(s, list) and s and all(isinstance(d, int) and d >= 0 for d in s)
            for s in shapes.values()):
        raise SparseRowsError(f'{path}: metadata {SPARSE_ROWS_KEY!r} is not a JSON map from '
                              f'tensor names to dense shapes ({meta[:80]!r}); re-export the file')
    return shapes


def _expand(path: str, name: str, shape: list, rows, values) -> torch.Tensor:
    where = f'{path}: sparse rows of {name}'
    if rows is None or values is None:
        raise SparseRowsError(f'{where}: the file lacks {name}.rows or {name}.values; '
                              're-export the file')
    if rows.dim() != 1 or rows.dtype not in (torch.int64, torch.int32):
        raise SparseRowsError(f'{where}: indices must be int64 or int32 of shape (k,), got '
                              f'{rows.dtype} {tuple(rows.shape)}; re-export the file')
    if tuple(values.shape) != (len(rows), *shape[1:]):
        raise SparseRowsError(f'{where}: values {tuple(values.shape)} do not match '
                              f'{len(rows)} rows of the dense shape {tuple(shape)} (expected '
                              f'{(len(rows), *shape[1:])}); re-export the file')
    outside = rows[(rows < 0) | (rows >= shape[0])]
    if len(outside):
        raise SparseRowsError(f'{where}: {len(outside)} indices out of range [0, {shape[0]}) '
                              f'(first: {int(outside[0])}); re-export the file')
    unique, counts = torch.unique(rows, return_counts=True)
    if len(unique) < len(rows):
        raise SparseRowsError(f'{where}: {len(rows) - len(unique)} indices repeated (first: '
                              f'{int(unique[counts > 1][0])}); re-export the file')
    dense = torch.zeros(shape, dtype=values.dtype)
    dense[rows.long()] = values
    return dense
