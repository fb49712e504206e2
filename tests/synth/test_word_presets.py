"""Rendering presets: the broad preset's fonts and labels, held-out faces never in training, the
easy preset identical to the options it names, make_synth_lmdb --preset."""
import os

import pytest

from clip4str_plugin.synth import word_presets
from clip4str_plugin.datasets.lmdb_io import iter_labels
from clip4str_plugin.synth.word_presets import FONT_SETS, PRESETS, preset_options
from clip4str_plugin.synth.word_renderer import render_samples
from clip4str_plugin.synth.words import WordSampler
from conftest import run_tool


def names(paths):
    return {os.path.basename(p) for p in paths}


def test_training_fonts_are_nine_families_and_held_out_faces_are_not_among_them():
    train = names(FONT_SETS['train']())
    faces = names(FONT_SETS['heldout-faces']())
    families = names(FONT_SETS['heldout-families']())
    # the six upright DejaVu faces and the six PyPI packages' regular and bold (installed by
    # tools/install.sh: the synth extra, requirements/synth.txt)
    assert len(train) == 18
    assert {'DejaVuSans.ttf', 'DejaVuSerif-Bold.ttf', 'PT_Serif-Web-Bold.ttf',
            'SpaceMono-Regular.ttf'} <= train
    assert len(faces) == 10 and not faces & train
    # six families from PyPI (the same on every machine), none of them trained on
    assert len(families) == 9 and not families & train
    assert {'Lato-Bold.ttf', 'CrimsonText-Regular.ttf', 'SourceCodePro[wght].ttf'} <= families


def test_broad_labels():
    options = PRESETS['broad']
    words = WordSampler('train', 0, options['random_fraction'], options['max_len'],
                        options['random_charset'], options['min_len'])
    labels = [words() for _ in range(300)]
    assert all(3 <= len(w) <= 12 and w.isalnum() and w.isascii() for w in labels)
    assert any(any(c.isdigit() for c in w) for w in labels)      # letter-digit strings
    assert any(w.isupper() for w in labels) and any(w.islower() for w in labels)


def test_held_out_faces_render_the_same_test_words_differently():
    plain = render_samples('test', 3, 0, **preset_options('broad'))
    faces = render_samples('test', 3, 0, **preset_options('broad-faces'))
    assert [label for _, label in plain] == [label for _, label in faces]
    assert [image for image, _ in plain] != [image for image, _ in faces]


def test_sans_preset_is_the_easy_main_job_data():
    """The main job's default: the very images its former command-line options rendered."""
    before = render_samples('val', 4, 5, fonts='sans', gray=True, distort=0.1, max_len=6,
                            random_fraction=0.0)
    assert render_samples('val', 4, 5, **preset_options('sans')) == before


def test_unknown_preset_and_no_fonts():
    with pytest.raises(ValueError, match="unknown rendering preset 'nope'; one of sans, broad"):
        preset_options('nope')
    with pytest.raises(ValueError, match='no font files to render with'):
        render_samples('test', 1, 0, fonts=())


def test_make_synth_lmdb_preset(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'faces'
    assert run_tool('make_synth_lmdb.py', out, '--split', 'test', '--num', '3', '--workers', '1',
                    '--preset', 'broad-faces', monkeypatch=monkeypatch) == ''
    labels = [label for _, label in iter_labels(str(out))]
    assert labels == [label for _, label in render_samples('test', 3, 0,
                                                           **preset_options('broad-faces'))]
    printed = capsys.readouterr().out
    assert 'preset broad-faces: 10 font faces: DejaVuSans-BoldOblique.ttf' in printed
    # the preset replaces, and an existing LMDB still needs --overwrite
    assert 'pass --overwrite' in run_tool('make_synth_lmdb.py', out, '--num', '2', '--preset',
                                          'broad', monkeypatch=monkeypatch)


def test_held_out_families_render_on_every_machine(tmp_path, monkeypatch, capsys):
    """The unseen-families test set comes from the synth extra's packages, never skipped."""
    out = tmp_path / 'families'
    assert run_tool('make_synth_lmdb.py', out, '--split', 'test', '--num', '3', '--workers', '1',
                    '--preset', 'broad-families', monkeypatch=monkeypatch) == ''
    assert 'preset broad-families: 9 font faces: Arimo[wght].ttf' in capsys.readouterr().out
    assert [label for _, label in iter_labels(str(out))] == [
        label for _, label in render_samples('test', 3, 0, **preset_options('broad'))]


def test_make_synth_lmdb_without_the_synth_extra_is_one_line(tmp_path, monkeypatch):
    from clip4str_plugin.synth.errors import missing_synth_extra

    def absent(*_, **__):
        raise missing_synth_extra('English words', 'english-words')
    monkeypatch.setattr(word_presets, 'preset_options', absent)
    message = run_tool('make_synth_lmdb.py', tmp_path / 'out', '--num', '3', '--preset',
                       'broad', monkeypatch=monkeypatch)
    assert message.startswith('error: English words need english-words') and '\n' not in message
    assert 'pip install -e .[synth]' in message and not (tmp_path / 'out').exists()
