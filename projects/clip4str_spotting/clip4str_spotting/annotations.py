"""Reading text-spotting annotations for evaluation: bad entries are skipped and named."""
import json
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np


def flat_polygon(polygon) -> Tuple[Optional[List[float]], str]:
    """``(flat [x1, y1, ...], '')`` for a valid polygon, else ``(None, why)``."""
    try:
        pts = np.asarray(polygon, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None, f'polygon {polygon!r} is not a list of numbers'
    if pts.size < 6 or pts.size % 2:
        return None, f'polygon has {pts.size} values (needs an even number, at least 6)'
    if not np.isfinite(pts).all():
        return None, 'polygon has non-finite values'
    return pts.tolist(), ''


def ignore_flag(value) -> Tuple[Optional[bool], str]:
    """``(flag, '')`` for a JSON boolean, 0 or 1 (absent: False), else ``(None, why)``: a
    string such as ``"false"`` is refused rather than read as true."""
    if isinstance(value, bool):
        return value, ''
    if isinstance(value, int) and value in (0, 1):
        return bool(value), ''
    return None, f'ignore is {value!r}, not true/false (a JSON boolean, or 0/1)'


def parse_entry(item) -> Tuple[Optional[dict], str]:
    """One ``data_list`` entry -> ``({img_path, polygons, texts, ignored}, '')`` or
    ``(None, why)``; an image with any unusable instance is skipped whole, as its scores would
    be wrong."""
    if not isinstance(item, dict) or not isinstance(item.get('img_path'), str):
        return None, 'no img_path'
    instances = item.get('instances', [])
    if not isinstance(instances, list):
        return None, 'instances is not a list'
    polygons, texts, ignored = [], [], []
    for k, instance in enumerate(instances):
        polygon, why = flat_polygon(instance.get('polygon') if isinstance(instance, dict)
                                    else None)
        if polygon is None:
            return None, f'instance {k}: {why}'
        polygons.append(polygon)
        text = instance.get('text')
        texts.append('' if text is None else str(text))
        ignore, why = ignore_flag(instance.get('ignore', False))
        if ignore is None:
            return None, f'instance {k}: {why}'
        ignored.append(ignore)
    return dict(img_path=item['img_path'], polygons=polygons, texts=texts,
                ignored=ignored), ''


def load_spotting_annotations(ann_file: str) -> Tuple[List[dict], List[str]]:
    """The usable entries of MMOCR's text-spotting / detection JSON (``data_list[i]``:
    ``img_path``, ``instances[j]``: ``polygon``, ``text``, ``ignore``) and one line per skipped
    entry, naming it and why.

    Raises:
        ValueError: naming the file, when it is missing, not JSON or has no ``data_list``.
    """
    if not osp.isfile(ann_file):
        raise ValueError(f'annotation file not found: {ann_file}')
    try:
        with open(ann_file, encoding='utf-8') as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f'{ann_file} is not a JSON file: {err}') from None
    data_list = data.get('data_list') if isinstance(data, dict) else None
    if not isinstance(data_list, list):
        raise ValueError(f"{ann_file} has no 'data_list' list (MMOCR's annotation format)")
    entries, skipped = [], []
    for index, item in enumerate(data_list):
        entry, why = parse_entry(item)
        if entry is None:
            name = item.get('img_path') if isinstance(item, dict) else None
            skipped.append(f'{name or f"data_list[{index}]"}: {why}')
        else:
            entries.append(entry)
    return entries, skipped
