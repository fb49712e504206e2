"""``--norm``: the mean / std (0-255, RGB) the data preprocessor of the tools that read images
normalises crops with.

* ``checkpoint`` (default): what the checkpoint records in ``meta['normalization']`` (a converted
  official checkpoint: the authors' ``read.py``, mean = std = 0.5), else the config's own;
* ``openai``: the OpenAI CLIP statistics, with which the authors train and validate;
* ``reference``: mean = std = 0.5, as the authors' ``read.py`` and test script.
"""
import numbers
from typing import Mapping, Optional, Union

from clip4str_plugin.weights.errors import CheckpointError
from clip4str_plugin.weights.loading import load_checkpoint_file

#: How the authors' ``read.py`` normalises crops: ``Normalize(0.5, 0.5)`` on 0-1 pixels, i.e.
#: mean = std = 127.5 on 0-255 RGB. The converter records it in ``meta['normalization']``.
READ_PY_NORMALIZATION = dict(mean=[127.5] * 3, std=[127.5] * 3, source='official read.py')
#: The OpenAI CLIP statistics (0-255, RGB) the authors train and validate with.
OPENAI_NORMALIZATION = dict(mean=[122.770938, 116.7460125, 104.09373615],
                            std=[68.5005327, 66.6321579, 70.32316305],
                            source='OpenAI CLIP (official training and validation)')
NORMS = {'openai': OPENAI_NORMALIZATION, 'reference': READ_PY_NORMALIZATION}
CHECKPOINT = 'checkpoint'


def add_norm_arg(parser) -> None:
    """The ``--norm {checkpoint,openai,reference}`` option (``args.norm``)."""
    parser.add_argument('--norm', choices=[CHECKPOINT, *NORMS], default=CHECKPOINT,
                        help="crop normalisation: the checkpoint's meta['normalization'] "
                        "(converted official: 0.5/0.5 as the authors' read.py), else the "
                        "config's; openai: OpenAI CLIP statistics; reference: 0.5/0.5")


def recorded_normalization(checkpoint: Mapping, filename: str) -> Optional[dict]:
    """``meta['normalization']`` of a loaded checkpoint (None when it records none); a value
    that is not three means and three positive stds is a :class:`CheckpointError`."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    stats = meta.get('normalization') if isinstance(meta, Mapping) else None
    if stats is None:
        return None
    values = [stats.get(k) if isinstance(stats, Mapping) else None for k in ('mean', 'std')]
    if not all(isinstance(v, (list, tuple)) and len(v) == 3 and all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) for x in v) for v in values) \
            or min(values[1]) <= 0:
        raise CheckpointError(f"{filename}: meta['normalization'] is not three means and three "
                              f'positive stds (0-255, RGB): {stats!r}; use --norm openai or '
                              '--norm reference')
    return dict(stats)


def apply_norm(model_cfg, choice: str, checkpoint: Union[str, Mapping, None],
               filename: str = '') -> Optional[dict]:
    """Set ``model_cfg.data_preprocessor``'s mean / std for ``--norm choice``; ``checkpoint``:
    a loaded checkpoint, its local path, or None (nothing recorded). Returns the statistics set
    (None: the config's kept)."""
    if choice in NORMS:
        stats = NORMS[choice]
    elif checkpoint is None:
        return None
    else:
        if isinstance(checkpoint, str):
            filename = filename or checkpoint
            checkpoint = load_checkpoint_file(checkpoint, map_location='cpu', mmap=True)
        stats = recorded_normalization(checkpoint, filename)
        if stats is None:
            return None
    model_cfg.data_preprocessor.update(mean=list(stats['mean']), std=list(stats['std']))
    return stats
