"""engine/amp: bf16 autocast training on CPU says which precision it runs and why."""
import torch
from torch import nn


def test_cpu_autocast_training_says_why_it_is_slow_on_avx2(monkeypatch):
    from clip4str_plugin.engine import amp
    logged = []
    monkeypatch.setattr(amp, 'print_log', lambda msg, **kwargs: logged.append((msg, kwargs)))
    monkeypatch.setattr(amp, 'bf16_is_fast', lambda device: False)
    monkeypatch.setattr(amp, 'bf16_reason', lambda device: 'emulated')
    model = nn.Linear(2, 2)
    amp.CPUAutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert logged == [('training precision: bfloat16 autocast on CPU (emulated)',
                       dict(logger='current', level=30))]
