"""Checkpoint tensors as views of a private, copy-on-write map of the file, and copies off it.

:func:`mappable` says whether ``torch.load(mmap=True)`` can map a file as it is (an uncompressed
zip archive); :func:`in_memory` copies the tensors that must outlive the map (everything but the
weights MMEngine copies into the model), see :mod:`.mmengine_loader`.
"""
import copy
import zipfile
from typing import Any

import torch


def mappable(path: str) -> bool:
    """True for a zip archive whose records are all stored uncompressed (mappable as they are)."""
    if not zipfile.is_zipfile(path):
        return False           # a legacy torch.save pickle
    with zipfile.ZipFile(path) as archive:
        return all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())


def in_memory(obj: Any) -> Any:
    """``obj`` with every tensor in its dicts, lists and tuples copied off the file's map."""
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        out = copy.copy(obj)     # the same type (OrderedDict, defaultdict)
        out.update((key, in_memory(value)) for key, value in obj.items())
        return out
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(in_memory(value) for value in obj)
    return obj
