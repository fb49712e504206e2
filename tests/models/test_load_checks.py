"""A checkpoint must fit the model it is loaded into: each of the plugin's backbones and decoders
checks its own part (coverage, shapes, values) in a load-state-dict pre-hook, naming the file;
intended partial loads and other models' fine-tuning still work. CLIP weights load whole or
not at all."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint
from torch import nn

from broken_checkpoints import DBNET_CONFIG, dbnet_checkpoint
from clip4str_plugin.models.load_checks import load_into
from clip4str_plugin.weights.clip_weights import CLIPWeightsError
from clip4str_plugin.weights.errors import CheckpointMismatchError
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from conftest import build_model, tiny_model


@pytest.fixture
def fit_check(monkeypatch):
    """The switch (weights-only reading; the checks need none), undone after the test."""
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()


def tensors(module) -> int:
    return sum(not k.endswith('num_batches_tracked') for k in module.state_dict())


def test_another_models_checkpoint_is_refused_with_counts(tmp_path, fit_check, capsys):
    recognizer = tiny_model()
    dbnet_path = dbnet_checkpoint(tmp_path / 'dbnet_iter_400.pth')
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(recognizer, str(dbnet_path))         # MMEngine's own entry point
    message = str(err.value)
    unexpected = sum(k.startswith('backbone.') for k in torch.load(str(dbnet_path))['state_dict'])
    assert message.startswith(f'{dbnet_path} covers 0 of {tensors(recognizer.backbone)} tensors '
                              f"of CLIPVisionBackbone at 'backbone.' ({unexpected} unexpected "
                              'keys, e.g. backbone.')
    assert 'wrong model or layout' in message and '\n' not in message
    # the other way round, a model not of this plugin: MMEngine's warning, as without it
    rec_path = tmp_path / 'iter_10.pth'
    torch.save(dict(meta={}, state_dict=recognizer.state_dict()), str(rec_path))
    detector = build_model(Config.fromfile(str(DBNET_CONFIG)).model)
    load_checkpoint(detector, str(rec_path))
    assert 'do not match exactly' in capsys.readouterr().out


def test_every_differing_tensor_is_counted(tmp_path, fit_check):
    model = tiny_model()
    state = model.state_dict()
    changed = [k for k in state if k.endswith('.weight') and state[k].dim() == 2]
    changed = [next(k for k in changed if k.startswith(p)) for p in
               ('backbone.', 'decoder.text_encoder.', 'decoder.visual_decoder.',
                'decoder.cross_decoder.')]
    for key in changed:                                 # one tensor in each of four modules
        state[key] = torch.zeros(state[key].shape[0] + 1, state[key].shape[1])
    path = tmp_path / 'wider.pth'
    torch.save(dict(meta={}, state_dict=state), str(path))
    with pytest.raises(CheckpointMismatchError,   # the backbone loads first: its own tensor
                       match=rf'^{path} does not match the model built from the config \(1 '
                             r'tensors differ, e\.g\. backbone\.'):
        load_checkpoint(model, str(path))
    for fixed, key in zip(changed, changed[1:]):  # then the decoder's text tower and networks
        state[fixed] = model.state_dict()[fixed]
        torch.save(dict(meta={}, state_dict=state), str(path))
        with pytest.raises(CheckpointMismatchError,   # each counts its own tensors
                           match=rf'^{path} does not match the model built from the config \(1 '
                                 rf'tensors differ, e\.g\. {key} \('):
            load_checkpoint(model, str(path))
    # loads outside MMEngine: each plugin module still refuses its own part
    with pytest.raises(CheckpointMismatchError, match='does not match'):
        model.load_state_dict(state)


def test_each_tensor_is_checked_once_by_the_module_it_belongs_to(monkeypatch):
    """The decoder's hook leaves its text tower's and networks' tensors to their own hooks."""
    from clip4str_plugin.models import load_checks
    checked = []
    real = load_checks.value_problems

    def counting(own, state_dict, prefix=''):
        checked.extend(prefix + name for name in own)
        return real(own, state_dict, prefix)

    monkeypatch.setattr(load_checks, 'value_problems', counting)
    model = tiny_model()
    decoder = model.decoder
    state = decoder.state_dict()
    decoder.load_state_dict(state)
    assert sorted(checked) == sorted(state) and len(checked) == len(state) > 0
    assert {k.split('.')[0] for k in checked} == {'text_encoder', 'visual_decoder',
                                                  'cross_decoder'}
    checked.clear()
    state = model.state_dict()
    model.load_state_dict(state)
    assert sorted(checked) == sorted(k for k in state if not k.endswith('num_batches_tracked'))
    checked.clear()
    decoder.visual_decoder.load_state_dict(decoder.visual_decoder.state_dict())  # alone: all
    assert sorted(checked) == sorted(decoder.visual_decoder.state_dict())


def test_intended_partial_loads_and_other_models_keep_mmengine_behaviour(tmp_path, fit_check):
    model = tiny_model()
    state = model.state_dict()
    kept = {k: v + 1 for i, (k, v) in enumerate(state.items()) if i % 3}  # 2/3 of each part
    path = tmp_path / 'partial.pth'
    torch.save(dict(meta={}, state_dict=kept), str(path))
    load_checkpoint(model, str(path))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in kept.items())
    # a model not built by this plugin: a resized head is skipped with MMEngine's warning
    plain = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))
    resized = dict(plain.state_dict(), **{'1.weight': torch.zeros(5, 8), '1.bias': torch.zeros(5)})
    torch.save(resized, str(tmp_path / 'resized.pth'))
    load_checkpoint(plain, str(tmp_path / 'resized.pth'))
    assert torch.equal(plain[0].weight, resized['0.weight'])


@pytest.mark.parametrize('spoil,why', [
    (lambda t: torch.full_like(t, float('nan')), r'values NaN or infinite'),
    (lambda t: t.long(), r': int64'),
    (lambda t: t.numpy(), r': a ndarray, not a tensor')])
def test_values_that_are_not_finite_floats_are_refused(tmp_path, fit_check, spoil, why):
    from clip4str_plugin.weights.errors import CheckpointValueError
    model = tiny_model()
    state = {k: spoil(v) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = tmp_path / 'spoilt.pth'
    torch.save(dict(meta={}, state_dict=state), str(path))
    floats = sum(v.is_floating_point() for v in model.backbone.state_dict().values())
    with pytest.raises(CheckpointValueError,
                       match=rf'^{path} holds {floats} tensors that are not finite '
                             rf'floating-point weights \(e\.g\. [^;]*{why}') as err:
        load_checkpoint(model, str(path))
    assert '\n' not in str(err.value)


def test_integer_buffers_and_half_precision_weights_still_load(tmp_path, fit_check):
    model = tiny_model()
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = tmp_path / 'half.pth'
    torch.save(dict(meta={}, state_dict=state), str(path))
    load_checkpoint(model, str(path))
    detector = build_model(Config.fromfile(str(DBNET_CONFIG)).model)
    dbnet_path = dbnet_checkpoint(tmp_path / 'dbnet.pth')    # int64 num_batches_tracked
    assert any(not v.is_floating_point() for v in torch.load(str(dbnet_path))['state_dict']
               .values())
    load_checkpoint(detector, str(dbnet_path))


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Parameter(torch.zeros(4, 2))
        self.register_buffer('position_ids', torch.arange(4))


@pytest.mark.parametrize('value,why', [
    (torch.full((4, 2), float('nan')), r'visual\.proj: 8 of 8 values NaN or infinite'),
    (torch.ones(4, 2, dtype=torch.int64), r'visual\.proj: int64'),
    (torch.ones(4, 2).numpy(), r'visual\.proj: a ndarray, not a tensor')])
def test_values_that_are_not_finite_floats_are_refused(value, why):
    tower = Tower()
    state = {'visual.proj': value, 'visual.position_ids': torch.arange(4)}
    with pytest.raises(CLIPWeightsError, match=rf'^CLIP weights clip\.bin holds 1 tensors that '
                                               rf'are not finite floating-point weights \(e\.g\. '
                                               rf'{why}\)'):
        load_into(tower, state, 'visual.', 'clip.bin')
    assert torch.equal(tower.proj, torch.zeros(4, 2))


def test_finite_half_weights_and_integer_buffers_load():
    tower = Tower()
    load_into(tower, {'visual.proj': torch.ones(4, 2).half(),
                      'visual.position_ids': torch.arange(4) + 1}, 'visual.', 'clip.bin')
    assert torch.equal(tower.proj, torch.ones(4, 2))
    assert torch.equal(tower.position_ids, torch.arange(4) + 1)
