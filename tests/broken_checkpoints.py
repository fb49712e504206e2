"""Checkpoint files as users get them wrong, for the tests of every loading path: truncated,
empty, a text file, another model's checkpoint (a DBNet's, given to a recognizer)."""
from pathlib import Path
from typing import Dict

import torch

ROOT = Path(__file__).resolve().parents[1]
DBNET_CONFIG = ROOT / 'projects' / 'clip4str_spotting' / 'configs' / \
    'dbnet_resnet18_fpnc_synth-scenes.py'


def dbnet_checkpoint(path: Path) -> Path:
    """An MMEngine-layout checkpoint of MMOCR's DBNet-R18 (random weights)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmocr.registry import MODELS
    init_default_scope('mmocr')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(DBNET_CONFIG)).model)
    torch.save(dict(meta=dict(iter=400), state_dict=model.state_dict()), str(path))
    return path


def unreadable_copies(folder: Path, good: Path) -> Dict[str, Path]:
    """``{case: path}``: ``good`` (an intact checkpoint) cut in half, an empty file, a config
    saved as .pth."""
    folder.mkdir(parents=True, exist_ok=True)
    data = good.read_bytes()
    files = {'truncated': folder / 'truncated.pth', 'empty': folder / 'empty.pth',
             'text': folder / 'text.pth'}
    files['truncated'].write_bytes(data[:len(data) // 2])
    files['empty'].write_bytes(b'')
    files['text'].write_text("model = dict(type='EncoderDecoderRecognizer')\n")
    return files


def broken_checkpoints(folder: Path, good: Path) -> Dict[str, Path]:
    """:func:`unreadable_copies` of ``good`` and a DBNet checkpoint (``'other_model'``)."""
    files = unreadable_copies(folder, good)
    files['other_model'] = dbnet_checkpoint(folder / 'dbnet_iter_400.pth')
    return files


#: What the one-line error says for each case.
EXPECTED = {'truncated': 'truncated: the end of the zip archive is missing',
            'empty': 'the file is empty',
            'text': 'not a torch checkpoint',
            'other_model': 'covers 0 of'}
