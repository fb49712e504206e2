"""Installing the plugin into an existing MMOCR environment keeps that environment's stack.

The environment is a throw-away venv that sees this venv's packages (one symlink per entry of
site-packages) except mmcv-lite, replaced by a full-mmcv distribution built here as a wheel (the
mmcv sources plus an ``mmcv/_ext.py`` standing for the compiled ops). pip installs the plugin
from a copy of the project with dependency resolution on and no index: whatever it would have to
fetch or replace fails the test. The slowest test of the suite: one pip call and one interpreter
that predicts, about 30 s on an idle 2-core machine, 70 s under load.
"""
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from conftest import ROOT, TINY_CONFIG

SITE = Path(sysconfig.get_paths()['purelib'])
PROJECT_FILES = ('setup.py', 'setup.cfg', 'requirements', 'clip4str_mmcv_lite.py',
                 'clip4str_plugin')
#: The packages of the ``synth`` extra (word lists, training fonts), as site-packages names.
SYNTH = ('english_words', 'wordfreq', 'fontpkg')
#: Entries of this venv's site-packages the MMOCR environment does not get.
HIDDEN = ('mmcv', 'mmcv_lite-', 'clip4str_plugin', '__editable__', '__pycache__') + SYNTH
FAKE_EXT = '''"""Stands for full mmcv's compiled ops in the install test."""
FULL_MMCV_MARKER = True


def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)

    def op(*args, **kwargs):
        raise NotImplementedError(name)
    return op
'''
PREDICT = '''
import importlib.metadata as md, json, math, sys
import numpy as np
import clip4str_mmcv_lite, clip4str_plugin
import mmcv._ext
from mmocr.apis import TextRecInferencer
inferencer = TextRecInferencer(model=sys.argv[1], device='cpu')
image = (np.random.default_rng(0).random((32, 100, 3)) * 255).astype('uint8')
pred = inferencer(image)['predictions'][0]
try:
    lite = md.version('mmcv-lite')
except md.PackageNotFoundError:
    lite = None
print(json.dumps(dict(plugin=clip4str_plugin.__file__, ext=mmcv._ext.__file__,
                      marker=getattr(mmcv._ext, 'FULL_MMCV_MARKER', False),
                      mmcv=md.version('mmcv'), lite=lite, text=pred['text'],
                      score_ok=math.isfinite(pred['scores']))))
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    return f'{name},sha256={digest},{len(data)}'


def build_full_mmcv_wheel(out_dir: Path) -> Path:
    """A wheel ``mmcv-<version>`` holding this venv's mmcv sources plus ``mmcv/_ext.py``."""
    lite = next(SITE.glob('mmcv_lite-*.dist-info'))
    version = lite.name[len('mmcv_lite-'):-len('.dist-info')]
    dist_info = f'mmcv-{version}.dist-info'
    files = {}
    for path in sorted((SITE / 'mmcv').rglob('*')):
        if path.is_file() and '__pycache__' not in path.parts:
            files[path.relative_to(SITE).as_posix()] = path.read_bytes()
    files['mmcv/_ext.py'] = FAKE_EXT.encode()
    files[f'{dist_info}/METADATA'] = (f'Metadata-Version: 2.1\nName: mmcv\nVersion: {version}\n'
                                      'Summary: stands for full mmcv in a test\n').encode()
    files[f'{dist_info}/WHEEL'] = (b'Wheel-Version: 1.0\nGenerator: test_install\n'
                                   b'Root-Is-Purelib: true\nTag: py3-none-any\n')
    record = [_record_line(name, data) for name, data in files.items()]
    files[f'{dist_info}/RECORD'] = ('\n'.join(record + [f'{dist_info}/RECORD,,']) + '\n').encode()
    wheel = out_dir / f'mmcv-{version}-py3-none-any.whl'
    with zipfile.ZipFile(wheel, 'w', zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def make_mmocr_env(root: Path) -> Path:
    """A venv seeing this venv's packages, but with full mmcv instead of mmcv-lite and without
    the plugin nor the ``synth`` extra; returns its python."""
    venv.create(root, with_pip=False, symlinks=True)
    python = root / 'bin' / 'python'
    site = Path(subprocess.check_output(
        [str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        text=True).strip())
    for entry in SITE.iterdir():
        if not entry.name.startswith(HIDDEN):
            (site / entry.name).symlink_to(entry)
    return python


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), '-m', 'pip', '--disable-pip-version-check', *args],
                          capture_output=True, text=True, timeout=600)


def test_metadata_has_ranges_not_the_pinned_stack():
    """No exact pin, no mmcv distribution in install_requires; the ranges admit older stacks."""
    lines = (ROOT / 'requirements' / 'runtime.txt').read_text().splitlines()
    reqs = {r.name.lower(): r for r in map(Requirement, (ln for ln in lines
                                                          if ln and not ln.startswith('#')))}
    assert not {'mmcv', 'mmcv-lite', 'mmcv-full'} & set(reqs)
    assert all('==' not in str(r.specifier) for r in reqs.values())
    for name, version in (('torch', '2.6.0'), ('torch', '2.14.1'), ('mmocr', '1.0.0'),
                          ('mmocr', '1.0.1'), ('mmengine', '0.8.4'), ('mmdet', '3.3.0'),
                          ('numpy', '1.24.4')):
        assert reqs[name].specifier.contains(version), (name, version)
    # the declared torch floor is the one CI tests (tools/run_floor_tests.sh), and it is real
    floor = (ROOT / 'requirements' / 'constraints-floor.txt').read_text().splitlines()
    assert 'torch==2.6.0' in floor and not reqs['torch'].specifier.contains('2.5.1')
    constraints = (ROOT / 'requirements' / 'constraints.txt').read_text()
    for pin in ('torch==2.14.1', 'mmcv-lite==2.0.1', 'mmocr==1.0.1', 'numpy<2'):
        assert pin in constraints.splitlines()
    assert '-c "$ROOT/requirements/constraints.txt"' in (ROOT / 'tools' / 'install.sh').read_text()


def test_installs_into_an_mmocr_env_with_full_mmcv_and_keeps_its_stack(tmp_path):
    python = make_mmocr_env(tmp_path / 'env')
    assert pip(python, 'install', '-q', '--no-index', '--no-deps',
               str(build_full_mmcv_wheel(tmp_path))).returncode == 0
    src = tmp_path / 'src'
    src.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy(ROOT / name, src / name)
    # dependencies resolved against what is installed, no index: anything to fetch or replace fails
    out = pip(python, 'install', '-q', '--no-index', '--no-build-isolation', '--report',
              str(tmp_path / 'report.json'), str(src))
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads((tmp_path / 'report.json').read_text())
    assert [item['metadata']['name'] for item in report['install']] == ['clip4str_plugin']
    requires = report['install'][0]['metadata']['requires_dist']
    assert [r for r in requires if r.startswith('mmcv')] == [
        'mmcv-lite<2.2.0,>=2.0.0rc4; extra == "lite"']
    # the word lists and fonts are an extra: the core install (no index) pulled none of them
    synth = [r for r in requires if r.replace('-', '_').startswith(SYNTH)]
    assert len(synth) == 14 and all(r.endswith('extra == "synth"') for r in synth)

    run = subprocess.run([str(python), '-c', PREDICT, str(TINY_CONFIG)], capture_output=True,
                         text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    env = str(tmp_path / 'env')
    assert got['plugin'].startswith(env) and got['ext'].startswith(env)   # installed, real ext
    assert got['marker'] and got['lite'] is None and got['mmcv'] == '2.0.1'
    assert isinstance(got['text'], str) and got['score_ok']


def test_a_missing_mmcv_is_one_clear_line(tmp_path):
    """Without mmcv (neither distribution) the import names what to install."""
    code = 'import sys; sys.modules["mmcv"] = None; import clip4str_plugin'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode != 0
    assert 'needs mmcv 2.x (full mmcv or mmcv-lite)' in out.stderr
    assert 'pip install "mmcv-lite' in out.stderr


BLOCK_SYNTH = '''
import sys
# the synth extra is not installed: its packages can be neither imported nor found
for name in ('english_words', 'wordfreq', 'fontpkg', 'fontpkg_pt_sans', 'fontpkg_pt_serif',
             'fontpkg_fira_sans', 'fontpkg_ibm_plex_serif', 'fontpkg_ibm_plex_mono',
             'fontpkg_space_mono', 'fontpkg_lato', 'fontpkg_arimo', 'fontpkg_crimson_text',
             'fontpkg_libre_baskerville', 'fontpkg_dm_mono', 'fontpkg_source_code_pro'):
    sys.modules[name] = None
'''
WITHOUT_SYNTH = BLOCK_SYNTH + '''
import json
import numpy as np
import clip4str_mmcv_lite, clip4str_plugin
from clip4str_plugin.synth import word_presets, words
from clip4str_plugin.synth.errors import MissingExtraError
from mmocr.apis import TextRecInferencer
pred = TextRecInferencer(model=sys.argv[1], device='cpu')(np.zeros((32, 100, 3), 'uint8'))
errors = []
for call in (words.all_words, lambda: words.all_words('el'),
             word_presets.FONT_SETS['train'], word_presets.FONT_SETS['heldout-families']):
    try:
        call()
    except MissingExtraError as err:
        errors.append(str(err))
print(json.dumps(dict(text=pred['predictions'][0]['text'], errors=errors)))
'''


def test_the_plugin_works_without_the_synth_extra(tmp_path):
    """Recognition needs no word list nor font package; rendering names the extra in one line."""
    out = subprocess.run([sys.executable, '-c', WITHOUT_SYNTH, str(TINY_CONFIG)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert isinstance(got['text'], str)
    assert got['errors'] == [
        'English words need english-words (the synth extra, not installed): '
        'pip install -e .[synth]',
        'Greek words need wordfreq (the synth extra, not installed): pip install -e .[synth]',
        'the training fonts need fontpkg-pt-sans, fontpkg-fira-sans, fontpkg-pt-serif, '
        'fontpkg-ibm-plex-serif, fontpkg-ibm-plex-mono, fontpkg-space-mono (the synth extra, '
        'not installed): pip install -e .[synth]',
        'the held-out font families need fontpkg-lato, fontpkg-arimo, fontpkg-crimson-text, '
        'fontpkg-libre-baskerville, fontpkg-dm-mono, fontpkg-source-code-pro (the synth extra, '
        'not installed): pip install -e .[synth]']
