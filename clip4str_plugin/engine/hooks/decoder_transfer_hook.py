"""Fine-tuning from a text-only pre-trained decoder: the PARSeq networks start from it, optionally
frozen for the first iterations."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmocr.registry import HOOKS

from ...models.parseq.transfer import PretrainedDecoderError, transfer_decoder, transfer_table


def _optimizers(optim_wrapper) -> List[torch.optim.Optimizer]:
    """The torch optimisers behind an ``OptimWrapper`` or ``OptimWrapperDict``."""
    wrappers = optim_wrapper.values() if hasattr(optim_wrapper, 'values') else [optim_wrapper]
    return [wrapper.optimizer for wrapper in wrappers]


@HOOKS.register_module()
class DecoderTransferHook(Hook):
    """Start every PARSeq network of ``model.decoder`` (PARSeqRecDecoder's ``decoder``, or
    CLIP4STRDecoder's ``visual_decoder`` and ``cross_decoder``) from a pre-trained one.

    Runs in ``before_train``: after the model's own ``init_weights`` and after ``load_from`` /
    resume. A run whose weights came from a checkpoint (a resume or ``load_from``) is left as
    it is (logged). Logs a table of every tensor (loaded, or kept at its initialisation and
    why); raises :class:`~clip4str_plugin.models.parseq.transfer.PretrainedDecoderError` (one
    line: file, prefix, what the file holds or lacks) when none loads, when a tensor not named
    in ``skip`` would keep its initialisation, or when the file's dictionary differs.

    ``freeze_iters`` N > 0 keeps the networks unchanged for iterations 0..N-1, then releases
    them (logged). While frozen their gradients are dropped before every optimiser step (a
    step pre-hook), so the optimiser skips them (no update, no weight decay, no moment state).
    Without DDP, or under DDP with ``find_unused_parameters=True``, ``requires_grad`` is also
    off (no gradient is computed; gradient clipping sees only the trained parameters); under
    DDP without it, gradients are still computed and all-reduced (DDP expects every parameter)
    and then dropped, so they count in a clipping norm but never reach the weights.

    Args:
        checkpoint: a decoder file (``SaveDecoderHook``'s ``decoder_pretrained.safetensors``)
            or an MMEngine checkpoint; None keeps the initialisation (a baseline run, logged).
        prefix: the network's key prefix in a checkpoint (DPTR pre-training:
            ``'decoder.decoder.'``); a decoder file needs none.
        freeze_iters: iterations during which the transferred networks stay unchanged.
        skip: tensor names of the networks (or their starts, e.g. ``'head.'``) that keep their
            initialisation on purpose; every other tensor must load.
    """

    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: Optional[str], prefix: str = 'decoder.decoder.',
                 freeze_iters: int = 0, skip: Sequence[str] = ()):
        if freeze_iters < 0:
            raise ValueError(f'DecoderTransferHook: freeze_iters must be >= 0, got {freeze_iters}')
        self.checkpoint, self.prefix, self.freeze_iters = checkpoint, prefix, freeze_iters
        self.skip = tuple(skip)
        self._frozen: Dict[torch.nn.Parameter, bool] = {}   # parameter -> its requires_grad
        self._handles: list = []

    @staticmethod
    def _decoder(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return getattr(model, 'decoder', None)

    def _networks(self, runner) -> Dict[str, torch.nn.Module]:
        decoder = self._decoder(runner)
        networks = decoder.networks() if hasattr(decoder, 'networks') else {}
        if not networks:
            raise PretrainedDecoderError(f'DecoderTransferHook: the model\'s decoder '
                             f'({type(decoder).__name__}) has no PARSeq network to start')
        return {f'decoder.{name}': network for name, network in networks.items()}

    def before_train(self, runner) -> None:
        networks = self._networks(runner)
        if runner._has_loaded:       # set by load_or_resume (MMEngine 0.10.7)
            how = 'resumed from' if runner._resume else 'loaded from load_from'
            source = runner._load_from or 'the work dir'
            runner.logger.info(f'DecoderTransferHook: weights {how} {source}: '
                               f'{self.checkpoint} not transferred')
        elif self.checkpoint is None:
            runner.logger.info('DecoderTransferHook: checkpoint=None, '
                               f'{", ".join(networks)} keep their initialisation')
        else:
            self._transfer(runner, networks)
        if runner.iter < self.freeze_iters:
            self._freeze(runner, networks)

    def _transfer(self, runner, networks: Dict[str, torch.nn.Module]) -> None:
        rows, where = transfer_decoder(networks, self.checkpoint, self.prefix,
                                       self._decoder(runner).dictionary.dict, self.skip)
        runner.logger.info(f'DecoderTransferHook: {", ".join(networks)} from {self.checkpoint} '
                           f'({where})\n{transfer_table(rows)}')

    # ---------------------------------------------------------------- freezing
    def _freeze(self, runner, networks: Dict[str, torch.nn.Module]) -> None:
        strict = (not is_model_wrapper(runner.model)
                  or getattr(runner.model, 'find_unused_parameters', False))
        params = [p for network in networks.values() for p in network.parameters()]
        self._frozen = {p: p.requires_grad for p in params}
        for p in params:
            p.grad = None
            if strict:
                p.requires_grad_(False)

        def drop_grads(optimizer, args, kwargs):
            for p in self._frozen:
                p.grad = None

        self._handles = [opt.register_step_pre_hook(drop_grads)
                         for opt in _optimizers(runner.optim_wrapper)]
        how = ('requires_grad off' if strict else
               'gradients computed and all-reduced under DDP, dropped before each step')
        runner.logger.info(f'DecoderTransferHook: {", ".join(networks)} frozen until iteration '
                           f'{self.freeze_iters} ({how}; the optimiser skips them)')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._frozen and runner.iter >= self.freeze_iters:
            self._release()
            runner.logger.info(f'DecoderTransferHook: decoder networks released at iteration '
                               f'{runner.iter}')

    def after_train(self, runner) -> None:
        self._release()

    def _release(self) -> None:
        for p, requires_grad in self._frozen.items():
            p.requires_grad_(requires_grad)
        for handle in self._handles:
            handle.remove()
        self._frozen, self._handles = {}, []
