"""Official-checkpoint reading says what a file is when it is not an official checkpoint."""
import runpy
import sys

import pytest
import torch

from clip4str_plugin.weights.reference_checkpoint import (CheckpointLayoutError,
                                                          read_reference_state_dict)
from conftest import ROOT
from test_mmengine_loader import mmengine_like_checkpoint

NOT_OFFICIAL = ('is not an official CLIP4STR checkpoint (it looks like an MMEngine/plugin '
                'checkpoint: use it directly with load_from / tools/test.py)')


def test_an_mmengine_checkpoint_is_named_as_such(tmp_path, monkeypatch):
    training = tmp_path / 'iter_4.pth'          # HistoryBuffer & co.: not inert data
    torch.save(mmengine_like_checkpoint(), str(training))
    converted = tmp_path / 'b16.pth'            # what tools/convert_clip4str_ckpt.py writes
    torch.save(dict(state_dict={'backbone.visual.proj': torch.ones(2)}, meta={}), str(converted))
    for path in (training, converted):
        with pytest.raises(CheckpointLayoutError) as err:
            read_reference_state_dict(str(path))
        assert str(err.value) == f'{path} {NOT_OFFICIAL}'
    monkeypatch.setattr(sys, 'argv', ['convert_clip4str_ckpt.py', str(training),
                                      str(tmp_path / 'out.pth')])
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(str(ROOT / 'tools' / 'convert_clip4str_ckpt.py'), run_name='__main__')
    assert exit.value.code == f'error: {training} {NOT_OFFICIAL}'
    assert 'getattr' not in exit.value.code and not (tmp_path / 'out.pth').exists()
