"""tools/make_demo_samples.py draws the shipped demo samples again, pixel for pixel, and keeps
existing PNGs unless --overwrite."""
import cv2
import numpy as np
import pytest

from conftest import ROOT, run_tool

SHIPPED = ROOT / 'assets' / 'samples'


def test_draws_the_shipped_samples_and_keeps_existing_ones(tmp_path, monkeypatch):
    out = tmp_path / 'samples'
    assert run_tool('make_demo_samples.py', out, '--words', '2', monkeypatch=monkeypatch) == ''
    names = sorted(p.name for p in out.iterdir())
    assert names == ['scene0.png', 'word0_syqRu5624N.png', 'word1_EXPUNGE.png']
    for name in names:        # the first words of a seed do not depend on --words
        assert np.array_equal(cv2.imread(str(out / name)), cv2.imread(str(SHIPPED / name)))
    stamp = (out / 'scene0.png').stat().st_mtime_ns
    assert run_tool('make_demo_samples.py', out, '--words', '2', monkeypatch=monkeypatch) == \
        f'error: 3 of the 3 PNGs already exist in {out} (e.g. word0_syqRu5624N.png); pass ' \
        '--overwrite to replace them'
    assert (out / 'scene0.png').stat().st_mtime_ns == stamp


@pytest.mark.parametrize('name', sorted(p.name for p in SHIPPED.glob('*.png')))
def test_the_shipped_samples_are_small(name):
    assert (SHIPPED / name).stat().st_size < 32 * 1024
