"""The spotting tools' files: the input images, one output name per input that never collides,
and no output replaced without ``--overwrite``."""
import os.path as osp
from typing import List, Sequence

from clip4str_plugin.datasets.image_io import list_image_files

from clip4str_plugin.fileio import refuse_existing_output

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def collect_images(inputs: Sequence[str], exclude: str = None) -> List[str]:
    """Image files given directly or found in the given folders (recursively, sorted), each
    once (by absolute path), leaving out anything under ``exclude`` (the output folder)."""
    exclude = osp.join(osp.abspath(exclude), '') if exclude else None
    files, seen = [], set()
    for item in inputs:
        if osp.isdir(item):
            found = list_image_files(item, IMAGE_EXTENSIONS)    # a FIFO would block: left out
        else:
            found = [item]
        for path in found:
            key = osp.abspath(path)
            if key not in seen and not (exclude and key.startswith(exclude)):
                seen.add(key)
                files.append(path)
    return files


def output_names(files: Sequence[str]) -> List[str]:
    """The path of every file relative to the deepest folder holding them all, extension kept
    (``a/good.jpg``, ``a/good.png``, ``a/sub/good.jpg`` -> ``good.jpg``, ``good.png``,
    ``sub/good.jpg``): distinct files get distinct names."""
    paths = [osp.abspath(f) for f in files]
    if not paths:
        return []
    base = osp.commonpath([osp.dirname(p) for p in paths])
    return [osp.relpath(p, base) for p in paths]


def refuse_existing(paths: Sequence[str], what: str = 'outputs') -> None:
    """Exit with one line when any of ``paths`` exists (the caller's ``--overwrite`` is off)."""
    if len(paths) == 1:
        refuse_existing_output(paths[0], overwrite=False)
    existing = [p for p in paths if osp.exists(p)]
    if existing:
        raise SystemExit(f'error: {len(existing)} of the {len(paths)} {what} already exist (e.g. '
                         f'{existing[0]}); pass --overwrite to replace them, or write elsewhere')
