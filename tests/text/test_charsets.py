"""Where a dict_file is: a bare name is a shipped dictionary, an existing path is itself, a path
into another copy of the package's dicts folder is this package's file, and any other missing
path is refused by name."""
import os.path as osp

import pytest

from clip4str_plugin.errors import DataNotFoundError
from clip4str_plugin.models.parseq.dictionary import PARSeqDictionary
from clip4str_plugin.text.charsets import DICTS_DIR, charset_of, resolve_dict_file, shipped_name

SHIPPED = 'charset_36.txt, charset_94.txt, charset_greek.txt'


def test_bare_names_and_existing_paths(tmp_path, monkeypatch):
    assert resolve_dict_file('charset_94.txt') == str(DICTS_DIR / 'charset_94.txt')
    mine = tmp_path / 'charset_94.txt'
    mine.write_text('a\nb\n')
    assert resolve_dict_file(str(mine)) == str(mine)          # a user's file of the same name
    assert PARSeqDictionary(str(mine)).chars == 'ab'
    monkeypatch.chdir(tmp_path)
    assert resolve_dict_file(osp.join('.', 'charset_94.txt')) == osp.join('.', 'charset_94.txt')
    assert resolve_dict_file('charset_94.txt') == str(DICTS_DIR / 'charset_94.txt')
    assert resolve_dict_file('mine.txt') == 'mine.txt'       # for the caller to report


@pytest.mark.parametrize('name', ['charset_94.txt', 'charset_greek.txt', 'mine.txt'])
def test_a_missing_path_is_refused_even_with_a_shipped_name(tmp_path, name):
    path = str(tmp_path / 'data' / name)
    message = (f"^dict_file {path} does not exist: give the path of an existing file; a bare "
               f"name such as 'charset_94.txt' means a shipped dictionary \\({SHIPPED}\\)$")
    with pytest.raises(DataNotFoundError, match=message) as err:
        resolve_dict_file(path)
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError, match=message):
        PARSeqDictionary(path)
    with pytest.raises(FileNotFoundError, match=message):
        charset_of(path)
    with pytest.raises(FileNotFoundError, match='^dict_file data/charset_94.txt does not exist'):
        PARSeqDictionary('data/charset_94.txt')               # relative: the same


def test_a_runner_config_from_another_machine_finds_the_shipped_file(monkeypatch):
    """The base config's ``{{ fileDirname }}/../../../clip4str_plugin/dicts/charset_94.txt``
    as a checkpoint of another checkout records it."""
    notes = []
    monkeypatch.setattr('clip4str_plugin.text.charsets.print_log',
                        lambda msg, **kw: notes.append(msg))
    elsewhere = '/nowhere/repo/configs/_base_/models/../../../clip4str_plugin/dicts/'
    assert resolve_dict_file(elsewhere + 'charset_94.txt') == str(DICTS_DIR / 'charset_94.txt')
    assert notes == [f'dict_file {elsewhere}charset_94.txt does not exist; using the shipped '
                     f"charset_94.txt ({DICTS_DIR / 'charset_94.txt'}) instead"]
    with pytest.raises(DataNotFoundError, match='^dict_file /nowhere/repo/clip4str_plugin/dicts/'
                       'mine.txt does not exist'):
        resolve_dict_file('/nowhere/repo/clip4str_plugin/dicts/mine.txt')  # not a shipped one
    with pytest.raises(DataNotFoundError, match='^dict_file /nowhere/dicts/charset_94.txt'):
        resolve_dict_file('/nowhere/dicts/charset_94.txt')


def test_shipped_name_is_the_bare_name_of_a_shipped_dictionary_only(tmp_path, monkeypatch):
    assert shipped_name('charset_94.txt') == 'charset_94.txt'
    assert shipped_name(str(DICTS_DIR / 'charset_greek.txt')) == 'charset_greek.txt'
    assert shipped_name(str(DICTS_DIR / '..' / 'dicts' / 'charset_36.txt')) == 'charset_36.txt'
    mine = tmp_path / 'charset_94.txt'
    mine.write_text('a\nb\n')
    assert shipped_name(str(mine)) is None                    # a user's file of the same name
    assert shipped_name(str(tmp_path / 'data' / 'charset_94.txt')) is None    # missing
    assert shipped_name('/nowhere/repo/clip4str_plugin/dicts/charset_94.txt') is None
    assert shipped_name('mine.txt') is None
    monkeypatch.chdir(DICTS_DIR.parent)
    assert shipped_name(osp.join('dicts', 'charset_94.txt')) == 'charset_94.txt'  # relative
