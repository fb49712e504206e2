"""compute/onednn: the oneDNN products equal F.linear's, are taken only in eager fp32 CPU
inference, and the switch picks them: auto only on AMD CPUs with AVX-512, on always, off never."""
import pytest
import torch
import torch.nn.functional as F

from clip4str_plugin.compute import cpu, onednn


def cpu_class(monkeypatch, vendor, avx512f):
    monkeypatch.setattr(onednn, 'cpu_vendor', lambda: vendor)
    monkeypatch.setattr(onednn, 'cpu_flags', lambda: dict.fromkeys(cpu.CPU_FLAGS, False) |
                        dict(avx2=True, avx512f=avx512f))


@pytest.mark.parametrize('switch, vendor, avx512f, expected', [
    ('auto', 'AuthenticAMD', True, 'onednn'),     # MKL would run its AVX2 code
    ('auto', 'AuthenticAMD', False, 'mkl'),       # AVX2 only: oneDNN measured 0.8-0.95x MKL
    ('auto', 'GenuineIntel', True, 'mkl'),
    ('on', 'GenuineIntel', False, 'onednn'),
    ('off', 'AuthenticAMD', True, 'mkl'),
    ('AUTO', 'AuthenticAMD', True, 'onednn')])
def test_the_switch_and_the_cpu_class_choose(monkeypatch, switch, vendor, avx512f, expected):
    monkeypatch.setenv('CLIP4STR_FASTPATH', switch)
    cpu_class(monkeypatch, vendor, avx512f)
    assert onednn.fp32_gemm_backend() == expected


def test_onednn_products_equal_f_linear(monkeypatch):
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'on')
    torch.manual_seed(0)
    x, h = torch.randn(2, 65, 128), torch.randn(2, 65, 512)
    w, b = torch.randn(128, 512) / 20, torch.randn(128)
    with torch.no_grad():
        assert onednn.takes_onednn(x, w)
        torch.testing.assert_close(onednn.linear(h, w, b), F.linear(h, w, b))
        torch.testing.assert_close(onednn.residual_linear(x, h, w, b), x + F.linear(h, w, b))
    # never with autograd, autocast or another dtype
    assert not onednn.takes_onednn(x, w)
    with torch.no_grad():
        assert not onednn.takes_onednn(x.bfloat16(), w.bfloat16())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not onednn.takes_onednn(x, w)
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'off')
    with torch.no_grad():
        assert not onednn.takes_onednn(x, w)


def test_traced_graphs_keep_the_public_ops(monkeypatch):
    """ONNX export traces the towers: the graph must hold aten::linear, not oneDNN's op."""
    from clip4str_plugin.compute.blocks import transformer_forward
    from open_clip.transformer import Transformer
    monkeypatch.setenv('CLIP4STR_FASTPATH', 'on')
    model = Transformer(16, 1, 2).eval().requires_grad_(False)
    with torch.no_grad():
        traced = torch.jit.trace(lambda x: transformer_forward(model, x), torch.randn(2, 5, 16))
    graph = str(traced.graph)
    assert 'mkldnn' not in graph and ('aten::linear' in graph or 'aten::addmm' in graph)
