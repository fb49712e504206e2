"""The reference's optimiser groups and its one-cycle schedule, as MMEngine components."""
from typing import List

from mmengine.optim import DefaultOptimWrapperConstructor, OneCycleLR
from mmocr.registry import OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS
from torch import nn

NO_DECAY_NAME_PARTS = ('bn', 'ln', 'bias', 'logit_scale', 'pos_queries', 'text_embed')


def no_weight_decay(name: str, param) -> bool:
    """The reference rule: 1-D tensors and names containing bn, ln, bias, logit_scale,
    pos_queries or text_embed (the 2-D positional embedding and projections do decay)."""
    return param.ndim < 2 or any(part in name for part in NO_DECAY_NAME_PARTS)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class CLIP4STROptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Four parameter groups as the reference: CLIP (no decay / decay) at ``lr`` and the new
    modules (no decay / decay) at ``lr * decoder_lr_mult`` with ``weight_decay *
    decoder_decay_mult``. Frozen parameters are left out.

    ``paramwise_cfg``: ``decoder_lr_mult`` (19.0), ``decoder_decay_mult`` (1.0) and
    ``clip_prefixes``: parameter-name prefixes of the pre-trained CLIP towers (the rest counts as
    new modules).
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', **_) -> None:
        cfg = self.paramwise_cfg
        lr_mult = cfg.get('decoder_lr_mult', 19.0)
        decay_mult = cfg.get('decoder_decay_mult', 1.0)
        clip_prefixes = tuple(cfg.get('clip_prefixes',
                                      ('backbone.', 'decoder.text_encoder.')))
        wd = self.base_wd or 0.0
        groups = {key: [] for key in ('clip_no_decay', 'clip_decay', 'new_no_decay',
                                      'new_decay')}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            owner = 'clip' if name.startswith(clip_prefixes) else 'new'
            kind = 'no_decay' if no_weight_decay(name, param) else 'decay'
            groups[f'{owner}_{kind}'].append(param)
        settings = dict(clip_no_decay=(self.base_lr, 0.0), clip_decay=(self.base_lr, wd),
                        new_no_decay=(self.base_lr * lr_mult, 0.0),
                        new_decay=(self.base_lr * lr_mult, wd * decay_mult))
        for key, group in groups.items():
            lr, weight_decay = settings[key]
            params.append(dict(params=group, lr=lr, weight_decay=weight_decay, name=key))


@PARAM_SCHEDULERS.register_module()
class GroupOneCycleLR(OneCycleLR):
    """torch's OneCycleLR where each group's maximum is the lr it was built with (so the
    decoders keep their 19x and ``auto_scale_lr`` carries through); ``eta_max`` may still be
    given explicitly."""

    def __init__(self, optimizer, eta_max=None, **kwargs):
        if eta_max is None:
            eta_max = [group['lr'] for group in optimizer.param_groups]
        super().__init__(optimizer, eta_max=eta_max, **kwargs)
