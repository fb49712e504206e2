"""convert_clip4str_ckpt.py --dict-file: the official 94-character fixture converted to the Greek
dictionary for fine-tuning (rows of shared characters kept, new rows initialised, the rest
unchanged), and the result loads into the Greek model without missing keys."""
import pytest
import torch
from mmengine.config import Config

from clip4str_plugin.text.charsets import CHARSET_94, charset_of
from clip4str_plugin.models.parseq.charset_remap import (CharsetRemapError, remap_charset,
                                                   token_row_keys)
from clip4str_plugin.weights.loading import load_checkpoint_file
from clip4str_plugin.weights.official_checkpoint import (official_to_plugin,
                                                         read_official_state_dict)
from conftest import build_model, make_samples, run_tool
from fixtures.make_official_tiny import load_official_tiny
from test_convert_clip4str_ckpt import write_lightning_ckpt

NETWORKS = ('decoder.visual_decoder', 'decoder.cross_decoder')


def test_official_checkpoint_to_the_greek_charset(tmp_path, monkeypatch, capsys):
    src, dst = tmp_path / 'official.ckpt', tmp_path / 'greek.pth'
    weights, stages = load_official_tiny()
    write_lightning_ckpt(src, weights)
    assert run_tool('convert_clip4str_ckpt.py', src, dst, '--dict-file', 'charset_greek.txt',
                    monkeypatch=monkeypatch) == ''
    stdout = capsys.readouterr().out
    # shared: the digits and .,;:!'-() (not « »)
    assert 'charset remapped: rows kept for 19 characters of both (0123456789.,...), 71 new ' \
        'rows initialised (αβγδεζηθικλμ...), 75 rows dropped (abcdefghijkl...)' in stdout
    assert 'note:' not in stdout                 # a shipped dictionary is named, not located
    before = official_to_plugin(read_official_state_dict(str(src)))[0]
    after = load_checkpoint_file(str(dst))
    state, cfg = after['state_dict'], Config.fromstring(after['meta']['cfg'], '.py')
    assert cfg.model.decoder.dictionary.dict_file == 'charset_greek.txt'
    assert cfg.model.decoder.text_charset == ''.join(c for c in charset_of('charset_greek.txt')
                                                     if c.isalnum())   # CLIP reads Greek

    old = ['[E]', *CHARSET_94, '[B]', '[P]']
    greek = charset_of('charset_greek.txt')
    new = ['[E]', *greek, '[B]', '[P]']
    for net in NETWORKS:
        head_w, head_b = f'{net}.head.weight', f'{net}.head.bias'
        embed = f'{net}.text_embed.embedding.weight'
        assert state[head_w].shape == (91, 64) and state[head_b].shape == (91, )
        assert state[embed].shape == (93, 64)
        for i, token in enumerate(new):
            if token in old:      # [E], [B], [P], the digits and 9 punctuation marks: kept
                j = old.index(token)
                assert torch.equal(state[embed][i], before[embed][j]), (embed, token)
                if i < 91:
                    assert torch.equal(state[head_w][i], before[head_w][j])
                    assert torch.equal(state[head_b][i], before[head_b][j])
            else:                 # Greek letters: initialised as the network initialises
                assert float(state[head_b][i]) == 0.0
                assert 0.005 < float(state[head_w][i].std()) < 0.04
    rows = set(token_row_keys(before))
    assert len(rows) == 6 and state.keys() == before.keys()
    for key, value in before.items():         # everything else unchanged
        if key not in rows:
            assert torch.equal(state[key], value), key

    model = build_model(cfg.model).eval()
    missing, unexpected = model.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    assert model.decoder.dictionary.chars == greek
    with torch.no_grad():
        preds = model.decoder.predict(model.backbone(torch.from_numpy(stages['images'])), None,
                                      make_samples([''] * 4, shape=(224, 224)))
    assert all(set(p.pred_text.item) <= set(greek) for p in preds)


def test_a_dictionary_that_is_not_the_checkpoints():
    state = {'decoder.visual_decoder.head.weight': torch.zeros(5, 2)}
    with pytest.raises(CharsetRemapError, match=r'^decoder.visual_decoder.head.weight has 5 rows, '
                       r'the source dictionary 3 tokens \(ab...\): give the dictionary it was '
                       'trained with$'):
        remap_charset(state, ['[E]', 'a', 'b', '[B]', '[P]'], ['[E]', 'a', '[B]', '[P]'], {})
