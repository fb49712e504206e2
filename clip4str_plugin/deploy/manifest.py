"""The manifest of an exported recognizer (``manifest.json`` beside its ONNX graphs).

It records what a runner needs besides the graphs (decoding geometry, the dictionary file, the
caption table, the input size and normalisation) and where they came from (opset, exporter,
the checkpoint's SHA-256), so a deployment folder is self-contained. It also records the
SHA-256 of every file it names: :func:`read_manifest` accepts only files inside the folder whose
checksums match, so a folder mixing two exports (one killed midway, files copied over) is
refused in one line rather than run.
"""
import json
import os.path as osp
from typing import Dict, List, Optional

from ..fileio import file_sha256, write_atomically
from ..models.clip4str.decoder import ANSWERS
from .errors import DeployError

MANIFEST = 'manifest.json'
FORMAT = 'clip4str-onnx/2'
#: Keys every manifest has, with their types (``graphs``: graph name -> ONNX file relative to
#: the folder; ``sha256``: file -> SHA-256 of every file the manifest names).
REQUIRED = dict(format=str, precision=str, graphs=dict, dict_file=str, decoding=dict,
                input=dict, opset=int, sha256=dict)
#: What the decode loop reads of ``decoding``, with its types.
DECODING = dict(max_length=int, bos_id=int, eos_id=int, num_classes=int, depth=int,
                decode_ar=bool, refine_iters=int, text_length=int, caption_chars=list,
                caption_style=str)
AGAIN = 'export the model again with tools/export_onnx.py'


def checkpoint_record(checkpoint: Optional[str]) -> Optional[Dict[str, str]]:
    """``{'file': basename, 'sha256': ...}`` of the exported checkpoint (None: random weights)."""
    if not checkpoint:
        return None
    return dict(file=osp.basename(checkpoint), sha256=file_sha256(checkpoint))


def named_files(manifest: Dict) -> List[str]:
    """The files a manifest names, relative to its folder: the graphs, then the dictionary."""
    return list(manifest['graphs'].values()) + [manifest['dict_file']]


def write_manifest(folder: str, manifest: Dict) -> str:
    """Write ``manifest`` (its ``sha256`` filled in from the files it names) as the folder's
    manifest.json, atomically; returns its path."""
    manifest['sha256'] = {name: file_sha256(osp.join(folder, name))
                          for name in named_files(manifest)}
    path = osp.join(folder, MANIFEST)
    write_atomically(path, json.dumps(manifest, indent=1, ensure_ascii=False).encode('utf-8'))
    return path


def _check_types(path: str, record: Dict, types: Dict, where: str = '') -> None:
    missing = [key for key in types if key not in record]
    if missing:
        raise DeployError(f'{path} lacks {where}{missing}; {AGAIN}')
    for key, kind in types.items():
        value = record[key]
        if not isinstance(value, kind) or kind is int and isinstance(value, bool):
            raise DeployError(f'{path}: {where}{key} is {type(value).__name__} {value!r:.40}, '
                              f'not {kind.__name__}; {AGAIN}')


def _check_layout(path: str, manifest: Dict) -> None:
    """Types of everything the runner reads; :class:`DeployError` naming the first wrong one."""
    _check_types(path, manifest, REQUIRED)
    _check_types(path, manifest['decoding'], DECODING, 'decoding.')
    answer = manifest['decoding'].get('answer', 'cross')     # exports before the choice: cross
    if answer not in ANSWERS:
        raise DeployError(f'{path}: decoding.answer is {answer!r:.40}, not one of '
                          f'{", ".join(ANSWERS)}; {AGAIN}')
    size = manifest['input'].get('size')
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise DeployError(f'{path}: input.size is {size!r:.40}, not [height, width]; {AGAIN}')
    if not isinstance(manifest['input'].get('data_preprocessor'), dict):
        raise DeployError(f'{path} lacks input.data_preprocessor (a dict); {AGAIN}')
    stages = ('memory', 'forward') + (('first', 'step') if manifest['decoding']['decode_ar']
                                      else ())
    needed = ['image_tower', 'text_tower'] + [f'{branch}_{stage}' for branch in ('visual', 'cross')
                                              for stage in stages]
    missing = [name for name in needed if name not in manifest['graphs']]
    if missing:
        raise DeployError(f'{path} lacks the graphs {missing}; {AGAIN}')
    for name, file in manifest['graphs'].items():
        if not isinstance(file, str):
            raise DeployError(f'{path}: graphs.{name} is {type(file).__name__}, not a file '
                              f'name; {AGAIN}')


def _check_file(path: str, folder: str, name: str, sha256: Dict) -> None:
    """``name`` lies inside ``folder`` (symbolic links resolved) and has its recorded
    SHA-256."""
    inside = osp.join(osp.realpath(folder), '')
    if osp.isabs(name) or not osp.realpath(osp.join(folder, name)).startswith(inside):
        raise DeployError(f'{path} names {name}, which lies outside {folder}; a deployment '
                          f'folder holds its own files ({AGAIN})')
    if not osp.isfile(osp.join(folder, name)):
        raise DeployError(f'{path} names {name}, which is not in {folder}; export the model '
                          'again or copy the whole folder')
    if name not in sha256:
        raise DeployError(f'{path} records no SHA-256 of {name}; {AGAIN}')
    if file_sha256(osp.join(folder, name)) != sha256[name]:
        raise DeployError(f'{osp.join(folder, name)} is not the file {path} was written with '
                          f'(its SHA-256 differs): a mixed or damaged folder; {AGAIN}')


def read_manifest(folder: str) -> Dict:
    """The manifest of the deployment folder ``folder`` (or of ``folder`` = its manifest.json),
    with ``root`` (the folder) added; every file it names must lie in the folder and have its
    recorded SHA-256. :class:`DeployError` (one line) otherwise."""
    if osp.basename(folder) == MANIFEST:
        folder = osp.dirname(folder) or '.'
    path = osp.join(folder, MANIFEST)
    if not osp.isfile(path):
        raise DeployError(f'{folder} is not an exported model: no {MANIFEST} (make one with '
                          'tools/export_onnx.py CONFIG CHECKPOINT OUT_DIR)')
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise DeployError(f'{path} is not valid JSON ({err}); export the model again') from None
    if not isinstance(manifest, dict) or manifest.get('format') != FORMAT:
        found = manifest.get('format') if isinstance(manifest, dict) else type(manifest).__name__
        raise DeployError(f'{path} is not a {FORMAT} manifest (format {found!r}); {AGAIN}')
    _check_layout(path, manifest)
    for name in named_files(manifest):
        _check_file(path, folder, name, manifest['sha256'])
    return dict(manifest, root=folder)
