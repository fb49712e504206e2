"""model-index.yml and the families' metafile.yml (MMOCR's format) agree with the repository:
files and classes exist, and the CLIP4STR results are the model zoo's table."""
import re

import yaml
from mmocr.registry import MODELS

from conftest import ROOT

ZOO_DATASETS = ('IIIT5K', 'SVT', 'ICDAR2013-1015', 'ICDAR2015-1811', 'ICDAR2015-2077', 'SVTP',
                'CUTE80', 'COCO-Text', 'ArT', 'Uber-Text')
AUTHORS_HOSTS = ('https://github.com/VamosC/CLIP4STR/releases/download/1.0.0/',
                 'https://zenodo.org/record/8369439',
                 'https://huggingface.co/mzhaoshuai/CLIP4STR/resolve/main/')


def metafiles():
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    return {path: yaml.safe_load((ROOT / path).read_text()) for path in index['Import']}


def zoo_rows():
    """(checkpoint id, config, [accuracy %]) of each row of docs/model_zoo.md's table."""
    rows = []
    for line in (ROOT / 'docs' / 'model_zoo.md').read_text().splitlines():
        cells = [c.strip() for c in line.strip('|').split('|')]
        found = re.search(r'(\w{10})\.(?:ckpt|pt)`$|id `(\w{10})`', cells[0])
        if line.startswith('|') and found:
            rows.append((found.group(1) or found.group(2), cells[3].strip('`'),
                         [float(v) for v in cells[4:14]]))
    return rows


def test_every_model_points_at_what_exists():
    families = metafiles()
    assert set(families) == {'configs/clip4str/metafile.yml', 'configs/dptr/metafile.yml'}
    names = []
    for meta in families.values():
        collections = {c['Name']: c for c in meta['Collections']}
        for collection in collections.values():
            assert (ROOT / collection['README']).is_file()
            assert collection['Paper']['URL'].startswith('https://arxiv.org/abs/')
            for arch in collection['Metadata']['Architecture']:
                assert MODELS.get(arch) is not None, arch
        for model in meta['Models']:
            names.append(model['Name'])
            assert model['In Collection'] in collections
            assert (ROOT / model['Config']).is_file(), model['Config']
    assert len(names) == len(set(names))


def test_clip4str_results_and_weights_are_the_model_zoos():
    models = metafiles()['configs/clip4str/metafile.yml']['Models']
    rows = zoo_rows()
    assert len(models) == len(rows) == 8
    for model, (checkpoint, config, accuracies) in zip(models, rows):
        assert model['Config'] == f'configs/clip4str/{config}'
        results = {r['Dataset']: r['Metrics']['word_acc'] for r in model['Results']}
        assert list(results) == list(ZOO_DATASETS)
        assert [round(100 * v, 2) for v in results.values()] == accuracies, model['Name']
        assert model['Weights'].startswith(AUTHORS_HOSTS)
        assert checkpoint in model['Weights'] or 'zenodo' in model['Weights']


def test_citation_names_this_software_and_both_papers():
    citation = yaml.safe_load((ROOT / 'CITATION.cff').read_text())
    assert citation['cff-version'] == '1.2.0' and citation['type'] == 'software'
    assert citation['license'] == 'Apache-2.0'
    ids = {ref['url'].rsplit('/', 1)[-1]: ref for ref in citation['references']}
    assert set(ids) == {'2305.14014', '2408.05706'}
    assert ids['2305.14014']['title'].startswith('CLIP4STR: A Simple Baseline')
    assert [a['family-names'] for a in ids['2408.05706']['authors']] == ['Zhao', 'Du', 'Chen',
                                                                          'Jiang']
    assert 'Apache License' in (ROOT / 'LICENSE').read_text()
