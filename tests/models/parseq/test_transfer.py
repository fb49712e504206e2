"""Starting a decoder from a DPTR pre-trained one: a table of every tensor, a clear error when
nothing fits or the alphabet differs, and the decoder-only file's round trip."""
import json
import re

import pytest
import torch
from safetensors import safe_open

from clip4str_plugin.models.parseq import PARSeqNetwork
from clip4str_plugin.models.parseq.transfer import (DECODER_FILE_FORMAT, PretrainedDecoderError,
                                                      read_decoder_source, save_decoder_file,
                                                      transfer_decoder, transfer_table)
from clip4str_plugin.weights.errors import CheckpointError

TOKENS = ['<E>', *'abcdefgh', '<B>', '<P>']


def network(embed_dim=32, depth=2, seed=0, num_classes=9):
    torch.manual_seed(seed)
    return PARSeqNetwork(num_classes=num_classes, vocab_size=num_classes + 2, bos_id=9, eos_id=0,
                         embed_dim=embed_dim, depth=depth, num_heads=4, max_length=6)


def partial_source(tmp_path):
    """A 1-layer network whose head has another alphabet's shape, as a checkpoint."""
    state = {f'decoder.decoder.{k}': v for k, v in network(depth=1, seed=1).state_dict().items()}
    state['decoder.decoder.head.weight'] = torch.zeros(7, 32)        # another alphabet's head
    path = str(tmp_path / 'pretrain.pth')
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


def test_partial_transfer_is_refused_in_one_line_naming_what_is_missing(tmp_path):
    path, target = partial_source(tmp_path), network(depth=2, seed=2)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(PretrainedDecoderError) as info:
        transfer_decoder({'decoder.decoder': target}, path, 'decoder.decoder.', TOKENS,
                         skip=['head.'])
    message = str(info.value)
    layer1 = sum(k.startswith('layers.1.') for k in before)          # 20; head.*: skipped
    assert '\n' not in message and message.startswith(
        f"{path} (prefix 'decoder.decoder.') covers {len(before) - layer1 - 2} of {len(before)} "
        f'tensors of decoder.decoder; {layer1} would keep their initialisation: '
        'decoder.decoder.layers.1.')
    assert '(not in file)' in message and "DecoderTransferHook's skip" in message
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())  # untouched


def test_table_names_loaded_and_kept_tensors(tmp_path):
    """A 1-layer source into a 2-layer network, layers.1 and the head (another shape) skipped:
    the shared tensors load, the skipped ones stay at their initialisation."""
    source, target, path = network(depth=1, seed=1), network(depth=2, seed=2), \
        partial_source(tmp_path)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    rows, where = transfer_decoder({'decoder.decoder': target}, path, 'decoder.decoder.',
                                   TOKENS, skip=['layers.1.', 'head.weight'])
    assert where == "prefix 'decoder.decoder.'"
    status = {name: s for name, _, s in rows}
    kept = sorted(name for name, s in status.items() if s != 'loaded')
    layer1 = sorted(f'decoder.decoder.{k}' for k in target.state_dict()
                    if k.startswith('layers.1.'))
    assert kept == sorted(layer1 + ['decoder.decoder.head.weight'])
    assert status['decoder.decoder.head.weight'] == 'kept init: skipped'
    assert status['decoder.decoder.layers.1.norm1.weight'] == 'kept init: skipped'
    now = target.state_dict()
    for key, value in source.state_dict().items():
        if f'decoder.decoder.{key}' not in kept:
            assert torch.equal(now[key], value), key
    for name in kept:
        key = name[len('decoder.decoder.'):]
        assert torch.equal(now[key], before[key]), key
    table = transfer_table(rows)
    loaded = len(rows) - len(kept)
    assert f'{loaded} loaded' in table and f'{len(kept)} kept init: skipped' in table
    assert re.search(r'\| decoder\.decoder\.layers\.1\.norm1\.weight +\| \(32,\) +\| kept init: '
                     r'skipped +\|', table)


def test_nothing_loads_is_one_line_naming_file_prefix_and_content(tmp_path):
    path = str(tmp_path / 'pretrain.pth')
    torch.save({'state_dict': {f'decoder.decoder.{k}': v
                               for k, v in network().state_dict().items()}}, path)
    with pytest.raises(PretrainedDecoderError) as info:
        transfer_decoder({'decoder.decoder': network()}, path, 'decoder.wrong.', TOKENS)
    message = str(info.value)
    assert '\n' not in message and isinstance(info.value, CheckpointError)
    assert message.startswith(f"no tensor of {path} (prefix 'decoder.wrong.') fits "
                              'decoder.decoder: the file holds ')
    assert 'tensors, e.g. decoder.decoder.head.bias' in message


def test_decoder_file_round_trip(tmp_path):
    source = network(seed=3)
    path = str(tmp_path / 'decoder_pretrained.safetensors')
    save_decoder_file(source, path, dict(geometry=dict(embed_dim=32, depth=2), dictionary=TOKENS,
                                         source_checkpoint='work/iter_10.pth'))
    assert [p.name for p in tmp_path.iterdir()] == ['decoder_pretrained.safetensors']
    with safe_open(path, framework='pt') as f:          # plain safetensors: own names, JSON meta
        assert sorted(f.keys()) == sorted(source.state_dict())
        meta = json.loads(f.metadata()['meta'])
    assert meta == dict(geometry=dict(embed_dim=32, depth=2), dictionary=TOKENS,
                        source_checkpoint='work/iter_10.pth', format=DECODER_FILE_FORMAT)
    tensors, read_meta = read_decoder_source(path, 'ignored.prefix.')
    assert read_meta == meta and set(tensors) == set(source.state_dict())
    target = network(seed=4)
    rows, where = transfer_decoder({'a': target, 'b': network(seed=5)}, path,
                                   'decoder.decoder.', TOKENS)          # a file needs no prefix
    assert where == 'the decoder file'
    assert len(rows) == 2 * len(tensors) and {s for _, _, s in rows} == {'loaded'}
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_decoder_file_of_another_dictionary_is_refused(tmp_path):
    path = str(tmp_path / 'decoder_pretrained.safetensors')
    other = ['<E>', *'abcdefgX', '<B>', '<P>']                       # same size, other letters
    save_decoder_file(network(), path, dict(dictionary=other))
    with pytest.raises(PretrainedDecoderError, match=re.escape(
            f"{path} was trained for another dictionary (11 tokens; this model 11; token 8 is "
            "'X' there, 'h' here): pre-train with the same dict_file")):
        transfer_decoder({'decoder.decoder': network()}, path, '', TOKENS)


def test_a_diverged_network_is_neither_written_nor_loaded(tmp_path):
    source = network(seed=3)
    with torch.no_grad():
        source.head.weight.fill_(float('nan'))
    path = tmp_path / 'decoder_pretrained.safetensors'
    with pytest.raises(PretrainedDecoderError, match=r'decoder network to be written to .* '
                                                     r'holds 1 tensors .*head\.weight: \d+ of'):
        save_decoder_file(source, str(path), {})
    assert not path.exists()
    ckpt = tmp_path / 'iter_10.pth'       # a pre-training checkpoint holding that network
    torch.save(dict(state_dict={f'decoder.decoder.{k}': v
                                for k, v in source.state_dict().items()}), str(ckpt))
    target = network(seed=4)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(PretrainedDecoderError, match=r'iter_10.pth holds 1 tensors that are '
                                                     r'not finite .*head\.weight'):
        transfer_decoder({'a': target}, str(ckpt), 'decoder.decoder.', TOKENS)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
