"""tools/preview_scene_effects.py: one row per background kind, per effect and of the preset, a
256-colour PNG, the same for a seed; an existing PNG needs --overwrite, a bad --per-row refused."""
import numpy as np
from PIL import Image

from clip4str_plugin.synth.scene_renderer import EFFECTS
from clip4str_plugin.synth.textures import BACKGROUNDS
from conftest import run_tool


def test_preview_grid(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'images' / 'scene.png'
    assert run_tool('preview_scene_effects.py', out, '--per-row', '1',
                    monkeypatch=monkeypatch) == ''
    assert f'wrote {out}' in capsys.readouterr().out
    image = Image.open(out)
    rows = len(BACKGROUNDS) + len(EFFECTS) + 3
    assert image.mode == 'P' and image.size == (720, rows * (40 + 4))
    pixels = np.asarray(image.convert('RGB'))
    assert (pixels[:40, 92:] != 255).any()                   # a sample right of the title
    first = out.read_bytes()
    assert 'pass --overwrite' in run_tool('preview_scene_effects.py', out, '--per-row', '1',
                                          monkeypatch=monkeypatch)
    assert run_tool('preview_scene_effects.py', out, '--per-row', '1', '--overwrite',
                    monkeypatch=monkeypatch) == ''
    assert out.read_bytes() == first
    assert run_tool('preview_scene_effects.py', out, '--per-row', '0', '--overwrite',
                    monkeypatch=monkeypatch) == ('error: --per-row must be a positive whole '
                                                 'number, got 0')
    assert run_tool('preview_scene_effects.py', tmp_path, monkeypatch=monkeypatch) == (
        f'error: out {tmp_path} is a folder: give the name of the file to write')
