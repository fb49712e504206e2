"""The switch is process-wide, but only our models get the fit checks (their own load-state-dict
pre-hooks): an MMOCR detector in the same process (next to our recognizer in one
MMOCRInferencer) loads its checkpoints as MMEngine alone loads them, and MMEngine's functions
stay its own; the remote schemes this plugin cannot read keep MMEngine's loaders."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

from broken_checkpoints import DBNET_CONFIG, dbnet_checkpoint
from clip4str_plugin.weights.errors import CheckpointMismatchError
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from conftest import TINY_CONFIG, build_model, tiny_model


@pytest.fixture
def without_plugin(monkeypatch):
    """MMEngine's own local loader (whatever ran before), then a function that turns the switch
    on; undone after the test."""
    schemes = dict(CheckpointLoader._schemes, **{'': mmengine_checkpoint.load_from_local})
    monkeypatch.setattr(CheckpointLoader, '_schemes', schemes)
    return use_weights_only_loader


def _detector():
    torch.manual_seed(1)
    return build_model(Config.fromfile(str(DBNET_CONFIG)).model)


def _spoilt(state, case):
    """The detector's state dict as the case has it."""
    if case == 'partial':        # 30 % of the keys: MMEngine warns about the missing ones
        return {k: v + 1 for k, v in list(state.items())[:int(0.3 * len(state))]}
    if case == 'resized head':   # MMEngine skips a resized tensor with a warning
        return {k: torch.zeros(v.shape[0] + 1, *v.shape[1:]) if k.endswith('binarize.0.weight')
                else v for k, v in state.items()}
    if case == 'nan':            # MMEngine copies NaN weights in
        return {k: torch.full_like(v, float('nan')) if v.is_floating_point() and i % 2 else v
                for i, (k, v) in enumerate(state.items())}
    return state


def _warnings(out: str) -> str:
    """MMEngine's output, less its line naming the reader (``local`` / ``weights_only``)."""
    return '\n'.join(line for line in out.splitlines()
                     if not line.startswith('Loads checkpoint by '))


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize('case', ['whole', 'partial', 'resized head', 'nan'])
def test_a_detector_loads_as_mmengine_alone_loads_it(tmp_path, without_plugin, capsys, case):
    source = torch.load(str(dbnet_checkpoint(tmp_path / 'dbnet.pth')))['state_dict']
    path = tmp_path / f'{case}.pth'
    torch.save(dict(meta=dict(iter=400), state_dict=_spoilt(source, case)), str(path))
    alone = _detector()
    load_checkpoint(alone, str(path))
    warned_alone = _warnings(capsys.readouterr().out)
    without_plugin()
    switched = _detector()
    assert not any(m._load_state_dict_pre_hooks for m in switched.modules())
    load_checkpoint(switched, str(path))
    assert _warnings(capsys.readouterr().out) == warned_alone
    assert ('do not match exactly' in warned_alone) == (case in ('partial', 'resized head'))
    _same(alone.state_dict(), switched.state_dict())
    # our recognizer in the same process is still checked
    with pytest.raises(CheckpointMismatchError, match='covers 0 of'):
        load_checkpoint(tiny_model(), str(path))


def test_the_inferencer_loads_a_partial_detector_next_to_our_recognizer(tmp_path,
                                                                       without_plugin, capsys):
    from mmocr.apis import MMOCRInferencer
    source = torch.load(str(dbnet_checkpoint(tmp_path / 'dbnet.pth')))['state_dict']
    path = tmp_path / 'partial.pth'
    torch.save(dict(meta={}, state_dict=_spoilt(source, 'partial')), str(path))
    without_plugin()
    inferencer = MMOCRInferencer(det=str(DBNET_CONFIG), det_weights=str(path),
                                 rec=str(TINY_CONFIG), device='cpu')
    assert 'do not match exactly' in capsys.readouterr().out
    loaded = inferencer.textdet_inferencer.model.state_dict()
    kept = _spoilt(source, 'partial')
    assert all(torch.equal(loaded[k], v) for k, v in kept.items())


def test_remote_schemes_ours_cannot_read_keep_mmengine_loaders(without_plugin):
    before = {name: CheckpointLoader._get_checkpoint_loader(name) for name in
              ('s3://bucket/iter_4.pth', 'petrel://bucket/iter_4.pth',
               'cluster:s3://bucket/iter_4.pth', 'pavi://run/iter_4')}
    without_plugin()
    for name, loader in before.items():
        assert CheckpointLoader._get_checkpoint_loader(name) is loader, name
    local = CheckpointLoader._get_checkpoint_loader('iter_4.pth')
    assert local.__module__ == 'clip4str_plugin.weights.safe_loading'
    # MMEngine's functions are its own; the checks are hooks of our modules only
    assert mmengine_checkpoint.load_state_dict.__module__ == 'mmengine.runner.checkpoint'
    hooked = {type(m).__name__ for m in tiny_model().modules() if m._load_state_dict_pre_hooks}
    assert {'CLIPVisionBackbone', 'CLIP4STRDecoder', 'CLIPTextEncoder'} <= hooked
