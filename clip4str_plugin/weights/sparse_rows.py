"""``.safetensors`` files that keep a mostly-zero table as its non-zero rows only.

CLIP's BPE token embedding is ``(49408, width)``; a text tower that reads spelled captions uses
38 of its rows (``tools/export_clip.py --token-rows spelled`` zeroes the rest), so storing those
rows shrinks the small CLIP's file from 14.8 MB to about 2 MB. A table ``NAME`` of dense shape
``(N, *row)`` is stored as:

- ``NAME.rows``: int64 ``(k,)``, the indices of the stored rows (unique, in ``[0, N)``,
  increasing when written here);
- ``NAME.values``: ``(k, *row)``, those rows, in the table's dtype;
- the file's metadata entry ``sparse_rows``: JSON ``{"NAME": [N, *row], ...}``, the dense shape
  of every table stored so.

Reading rebuilds ``NAME`` as zeros of the dense shape with the stored rows put back, before any
key mapping or shape check. A row is left out when all its entries equal zero, so a row holding
-0.0 comes back as +0.0: equal as numbers (and in every product and sum), not in the sign bit.
Files without the metadata entry are read as they are.
"""
import json
from typing import Dict, Mapping, Sequence

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from ..fileio import write_atomically
from .errors import CheckpointReadError

#: The metadata entry listing the tables stored as rows (JSON: name -> dense shape).
SPARSE_ROWS_KEY = 'sparse_rows'
ROWS_SUFFIX = '.rows'
VALUES_SUFFIX = '.values'


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
        tensors[name + ROWS_SUFFIX] = kept.to(torch.int64)
        tensors[name + VALUES_SUFFIX] = table[kept].contiguous()
        shapes[name] = list(table.shape)
    metadata = dict(metadata)
    if shapes:
        metadata[SPARSE_ROWS_KEY] = json.dumps(shapes)
    write_atomically(path, safetensors_bytes(tensors, metadata=metadata))


def load_file_sparse_rows(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of the ``.safetensors`` file ``path``, sparse-row tables made dense again.

    Raises:
        SparseRowsError: naming ``path`` and the table, when a table's metadata, indices (out of
            range, repeated, not integers) or values shape do not fit.
    """
    with safe_open(path, framework='pt') as f:
        meta = (f.metadata() or {}).get(SPARSE_ROWS_KEY)
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    if meta is None:
        return tensors
    for name, shape in _dense_shapes(path, meta).items():
        rows, values = (tensors.pop(name + suffix, None) for suffix in (ROWS_SUFFIX,
                                                                          VALUES_SUFFIX))
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
        raise SparseRowsError(f'{where}: the file lacks {name}{ROWS_SUFFIX} or '
                              f'{name}{VALUES_SUFFIX}; re-export the file')
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
