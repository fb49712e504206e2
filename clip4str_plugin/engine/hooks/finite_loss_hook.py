"""Stop a run whose loss is no longer a number, before a NaN model is checkpointed or exported."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmocr.registry import HOOKS


class NonFiniteLossError(SystemExit):
    """Training stopped on a NaN or infinite loss: ends the program with its one-line message
    (``error: ...``, exit status 1; no traceback) unless caught."""


def _value(value) -> Optional[float]:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    return float(value) if isinstance(value, (int, float)) else None


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """After every training iteration: the losses the model returned (``outputs``, the log
    variables whose name contains ``loss``) must be finite; ``patience`` iterations in a row
    with a NaN or infinite one stop the run with :class:`NonFiniteLossError`, naming the
    iteration and the losses. Runs before the checkpoint hook (priority ``VERY_HIGH``), and the
    run ends without ``after_train``, so neither a checkpoint of that iteration nor
    ``SaveDecoderHook``'s decoder file is written. With ``patience`` > 1 the iterations in
    between may have saved checkpoints (an AMP optimiser wrapper skips the steps of an infinite
    loss; a plain one applies them).

    Args:
        patience: non-finite iterations in a row that stop the run (1: the first).
    """

    priority = 'VERY_HIGH'

    def __init__(self, patience: int = 1):
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f'FiniteLossHook: patience must be a positive integer, not '
                             f'{patience!r}')
        self.patience, self.in_a_row = patience, 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        losses = {name: _value(value) for name, value in (outputs or {}).items()
                  if 'loss' in name}
        bad = {name: value for name, value in losses.items()
               if value is not None and not math.isfinite(value)}
        self.in_a_row = self.in_a_row + 1 if bad else 0
        if self.in_a_row < self.patience:
            return
        shown = ', '.join(f'{name} {value}' for name, value in losses.items())
        raise NonFiniteLossError(
            f'error: training stopped at iteration {runner.iter + 1}: the loss was NaN or '
            f'infinite for {self.in_a_row} iteration(s) in a row ({shown}); nothing of this '
            'iteration was saved: lower the learning rate, check the data (and an ORP bank), or '
            'resume from the last checkpoint (FiniteLossHook patience sets how many to allow)')
