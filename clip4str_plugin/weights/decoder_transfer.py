"""Start a PARSeq decoder from another checkpoint's decoder (DPTR: pre-trained from text only)."""
import torch
from mmengine.logging import MMLogger

from .mmengine_loader import load_checkpoint_file


class PretrainedDecoderError(RuntimeError):
    """Loading pre-trained decoder weights loaded nothing."""


def load_decoder_weights(module: torch.nn.Module, checkpoint: str, prefix: str,
                         name: str) -> None:
    """Copy ``checkpoint``'s tensors under ``prefix`` into ``module`` (shapes must agree).

    The local file is read weights-only. Logs how many keys loaded and which module keys did
    not; raises :class:`PretrainedDecoderError` when no key loads (a wrong prefix or file).
    """
    ckpt = load_checkpoint_file(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    own = module.state_dict()
    loaded = [k for k in own if k in picked and picked[k].shape == own[k].shape]
    if not loaded:
        sample = ', '.join(sorted(state)[:4])
        raise PretrainedDecoderError(
            f'{name}: no decoder weight of {checkpoint} matched prefix {prefix!r} '
            f'(the file holds e.g. {sample})')
    with torch.no_grad():
        for key in loaded:
            own[key].copy_(picked[key])
    logger = MMLogger.get_current_instance()
    skipped = sorted(set(own) - set(loaded))
    logger.info(f'{name}: loaded {len(loaded)} of {len(own)} tensors from {checkpoint} '
                f'(prefix {prefix!r}); not loaded: {skipped or "none"}')
    unused = sorted(set(picked) - set(loaded))
    if unused:
        logger.warning(f'{name}: {len(unused)} tensors of {checkpoint} unused: {unused[:8]}')
