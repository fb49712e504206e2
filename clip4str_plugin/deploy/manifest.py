"""The manifest of an exported recognizer (``manifest.json`` beside its ONNX graphs).

It records what a runner needs besides the graphs (decoding geometry, the dictionary file, the
caption table, the input size and normalisation) and where they came from (opset, exporter,
the checkpoint's SHA-256), so a deployment folder is self-contained.
"""
import json
import os.path as osp
from typing import Dict, Optional

from ..engine.checkpoint_io import file_sha256
from .errors import DeployError

MANIFEST = 'manifest.json'
FORMAT = 'clip4str-onnx/1'
#: Keys every manifest has (``graphs``: graph name -> ONNX file relative to the folder).
REQUIRED = ('format', 'precision', 'graphs', 'dict_file', 'decoding', 'input', 'opset')


def checkpoint_record(checkpoint: Optional[str]) -> Optional[Dict[str, str]]:
    """``{'file': basename, 'sha256': ...}`` of the exported checkpoint (None: random weights)."""
    if not checkpoint:
        return None
    return dict(file=osp.basename(checkpoint), sha256=file_sha256(checkpoint))


def write_manifest(folder: str, manifest: Dict) -> str:
    path = osp.join(folder, MANIFEST)
    with open(path, 'w') as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    return path


def read_manifest(folder: str) -> Dict:
    """The manifest of the deployment folder ``folder`` (or of ``folder`` = its manifest.json),
    with ``root`` (the folder) added; every file it names must exist. :class:`DeployError`
    (one line) otherwise."""
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
        raise DeployError(f'{path} is not a {FORMAT} manifest (format {found!r}); export the '
                          'model again with tools/export_onnx.py')
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise DeployError(f'{path} lacks {missing}; export the model again with '
                          'tools/export_onnx.py')
    for name in list(manifest['graphs'].values()) + [manifest['dict_file']]:
        if not osp.isfile(osp.join(folder, name)):
            raise DeployError(f'{path} names {name}, which is not in {folder}; export the model '
                              'again or copy the whole folder')
    return dict(manifest, root=folder)
