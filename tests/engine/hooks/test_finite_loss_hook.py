"""FiniteLossHook: a NaN or infinite loss stops training in one line after `patience` in a row."""
from types import SimpleNamespace

import pytest
import torch

from clip4str_plugin.engine.hooks import FiniteLossHook, NonFiniteLossError


def step(hook, iteration, **losses):
    hook.after_train_iter(SimpleNamespace(iter=iteration), 0, None,
                          {name: torch.tensor(value) for name, value in losses.items()})


def test_the_first_nan_loss_stops_the_run():
    hook = FiniteLossHook()
    step(hook, 0, loss=1.5, loss_ce=1.5)
    with pytest.raises(NonFiniteLossError) as stopped:
        step(hook, 1, loss=float('nan'), loss_ce=float('nan'))
    assert str(stopped.value).startswith(
        'error: training stopped at iteration 2: the loss was NaN or infinite for 1 '
        'iteration(s) in a row (loss nan, loss_ce nan); nothing of this iteration was saved')
    assert stopped.value.code == str(stopped.value) and '\n' not in str(stopped.value)


def test_patience_counts_iterations_in_a_row():
    hook = FiniteLossHook(patience=2)
    step(hook, 0, loss=float('inf'))
    step(hook, 1, loss=2.0)                      # finite again: the count starts over
    step(hook, 2, loss=float('inf'))
    with pytest.raises(NonFiniteLossError, match='infinite for 2 iteration'):
        step(hook, 3, loss=float('-inf'), acc=float('nan'))   # (only losses are judged)


@pytest.mark.parametrize('patience', [0, 1.5])
def test_patience_must_be_a_positive_integer(patience):
    with pytest.raises(ValueError, match='patience must be a positive integer'):
        FiniteLossHook(patience=patience)
