"""models/clip/fp32_gemm: the oneDNN products equal F.linear's, are taken only in fp32 CPU
inference, and the backend is chosen by CLIP4STR_FP32_GEMM or by which of the two is faster."""
import pytest
import torch
import torch.nn.functional as F

from clip4str_plugin.models.clip import fp32_gemm


@pytest.fixture
def logged(monkeypatch):
    """The messages fp32_gemm logs."""
    messages = []
    monkeypatch.setattr(fp32_gemm, 'print_log', lambda msg, **kwargs: messages.append(msg))
    return messages


@pytest.fixture
def choose(monkeypatch, logged):
    """Forget the process's choice; returns a setter of the environment variable."""
    monkeypatch.setattr(fp32_gemm, '_chosen', None)
    return lambda value: monkeypatch.setenv(fp32_gemm.ENV, value)


def test_onednn_products_equal_f_linear(monkeypatch):
    monkeypatch.setattr(fp32_gemm, '_chosen', 'onednn')
    torch.manual_seed(0)
    x, h = torch.randn(2, 65, 128), torch.randn(2, 65, 512)
    w, b = torch.randn(128, 512) / 20, torch.randn(128)
    with torch.no_grad():
        assert fp32_gemm.takes_onednn(x, w)
        torch.testing.assert_close(fp32_gemm.linear(h, w, b), F.linear(h, w, b))
        torch.testing.assert_close(fp32_gemm.residual_linear(x, h, w, b), x + F.linear(h, w, b))
    # never with autograd, autocast or another dtype
    assert not fp32_gemm.takes_onednn(x, w)
    with torch.no_grad():
        assert not fp32_gemm.takes_onednn(x.bfloat16(), w.bfloat16())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not fp32_gemm.takes_onednn(x, w)
    monkeypatch.setattr(fp32_gemm, '_chosen', 'mkl')
    with torch.no_grad():
        assert not fp32_gemm.takes_onednn(x, w)


@pytest.mark.parametrize('value', ['mkl', 'onednn', 'MKL'])
def test_the_environment_variable_decides(choose, value, monkeypatch, logged):
    choose(value)
    monkeypatch.setattr(fp32_gemm, '_probe', lambda: pytest.fail('no probe when told'))
    assert fp32_gemm.fp32_gemm_backend() == value.lower()
    assert logged == [f'fp32 GEMMs of the CLIP towers in inference: {value.lower()} '
                      f'(CLIP4STR_FP32_GEMM={value.lower()})']


def test_a_wrong_backend_name_is_refused(choose):
    choose('blas')
    with pytest.raises(ValueError, match="CLIP4STR_FP32_GEMM must be one of auto, mkl, onednn; "
                                         "got 'blas'"):
        fp32_gemm.fp32_gemm_backend()


@pytest.mark.parametrize('slow', ['mkl', 'onednn'])
def test_auto_takes_the_faster_backend_once(choose, slow, monkeypatch, logged):
    choose('auto')
    calls, clock = [], [0.0]

    def timed(name):   # on the probe's clock the slow one takes 50 ms, the other 40 ms
        def run(*args):
            calls.append(name)
            clock[0] += 0.05 if name == slow else 0.04
        return run

    monkeypatch.setattr(fp32_gemm, 'timer', lambda: clock[0])
    monkeypatch.setattr(fp32_gemm.F, 'linear', timed('mkl'))
    monkeypatch.setattr(fp32_gemm, '_onednn_linear', timed('onednn'))
    fast = 'mkl' if slow == 'onednn' else 'onednn'
    assert fp32_gemm.fp32_gemm_backend() == fast
    assert calls.count('mkl') == calls.count('onednn') == 4   # one warm-up, three timed
    assert fp32_gemm.fp32_gemm_backend() == fast
    assert len(calls) == 8                                    # chosen once per process
    ms = dict(mkl='50.00' if slow == 'mkl' else '40.00',
              onednn='50.00' if slow == 'onednn' else '40.00')
    assert logged == [
        f'fp32 GEMMs of the CLIP towers in inference: {fast} (CLIP4STR_FP32_GEMM=auto: a '
        f'197x768x3072 product took {ms["mkl"]} ms through MKL, {ms["onednn"]} ms through '
        'oneDNN; oneDNN is taken from 1.1x faster)']


def test_a_small_advantage_keeps_mkl(choose, monkeypatch):
    """oneDNN must be >= 1.1x faster: 5 % is within the noise of a shared machine."""
    choose('auto')
    clock = [0.0]
    monkeypatch.setattr(fp32_gemm, 'timer', lambda: clock[0])
    monkeypatch.setattr(fp32_gemm.F, 'linear', lambda *a: clock.__setitem__(0, clock[0] + 1.05))
    monkeypatch.setattr(fp32_gemm, '_onednn_linear',
                        lambda *a: clock.__setitem__(0, clock[0] + 1.0))
    assert fp32_gemm.fp32_gemm_backend() == 'mkl'


def test_traced_graphs_keep_the_standard_ops(monkeypatch):
    """ONNX export traces the towers: the graph must hold aten::linear, not oneDNN's op."""
    monkeypatch.setattr(fp32_gemm, '_chosen', 'onednn')
    lin = torch.nn.Linear(8, 4).requires_grad_(False)
    with torch.no_grad():
        traced = torch.jit.trace(lambda x: fp32_gemm.linear(x, lin.weight, lin.bias),
                                 torch.randn(2, 8))
    graph = str(traced.graph)
    assert 'aten::linear' in graph and 'mkldnn' not in graph


def test_the_probe_leaves_the_global_random_state_alone(choose):
    choose('auto')
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    fp32_gemm.fp32_gemm_backend()
    assert torch.equal(torch.rand(4), expected)
