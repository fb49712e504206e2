"""The authors' CLIP4STR checkpoints (Lightning ``.ckpt``, Hugging Face ``.pt``) read weights-only,
keys renamed for this plugin (:data:`PREFIX_MAP`, docs/model_zoo.md). Each global of Lightning,
omegaconf, torch.optim ... that a file names (its pickle's opcodes listed, nothing run) is, for
that load, an inert stand-in: a fresh ``OrderedDict``; anything else a file names is refused."""
import collections
import zipfile
from typing import Any, Dict, FrozenSet, List, Mapping, Tuple

import torch

from .clip_weights import TEXT_TOWER_KEYS
from .errors import MALFORMED_PICKLE_ERRORS, CheckpointReadError
from .loading import checked_file, load_error, torch_load
from .zip_limits import pickle_globals

#: Libraries whose objects surround the weights in the authors' files.
LIGHTNING_MODULES = ('pytorch_lightning', 'lightning', 'lightning_fabric', 'omegaconf', 'hydra',
                     'strhub', 'torch.optim', 'typing', 'enum', 'pathlib', 'argparse', 'datetime')
PREFIX_MAP = (('clip_model.visual.', 'backbone.visual.'),
              *((f'clip_model.{key}', f'decoder.text_encoder.text.{key}')
                for key in TEXT_TOWER_KEYS),
              ('visual_decoder.', 'decoder.visual_decoder.'),
              ('cross_decoder.', 'decoder.cross_decoder.'))
DROPPED = ('clip_model.logit_scale', )   # CLIP's contrastive scale
REQUIRED_KEYS = ('clip_model.visual.conv1.weight', 'clip_model.visual.proj',
                 'clip_model.token_embedding.weight', 'clip_model.ln_final.weight',
                 'visual_decoder.head.weight', 'cross_decoder.head.weight',
                 'visual_decoder.pos_queries')


class OfficialCheckpointError(CheckpointReadError):
    """The file is no official CLIP4STR checkpoint that can be read."""


class _StandIn:
    """Stands for a class of :data:`LIGHTNING_MODULES`: a fresh ``OrderedDict`` for the file."""

    def __new__(cls, *args):
        return collections.OrderedDict()


def _getattr_stand_in(obj, name: str) -> collections.OrderedDict:
    """``getattr`` in a file (a pickled bound method of a scheduler): a fresh record, no read."""
    return collections.OrderedDict(getattr=name)


def _stand_ins(names: FrozenSet[str]) -> List[Tuple[Any, str]]:
    """(stand-in, name) of the globals a file may name: :data:`LIGHTNING_MODULES`' of ``names``
    (those the file names), ``defaultdict``, ``getattr`` and plain types."""
    return [(_StandIn, name) for name in sorted(names)
            if any(name.startswith(module + '.') for module in LIGHTNING_MODULES)] + [
                (_StandIn, 'collections.defaultdict'), (_getattr_stand_in, 'builtins.getattr'),
                *((t, f'builtins.{t.__name__}') for t in (dict, list, tuple, frozenset))]


def _not_official(path: str) -> OfficialCheckpointError:
    return OfficialCheckpointError(
        f'{path} is not an official CLIP4STR checkpoint (it looks like an MMEngine/plugin '
        'checkpoint: use it directly with load_from / tools/test.py)')


def load_official_file(path: str) -> Any:
    """What an official ``.ckpt`` / ``.pt`` file holds, read weights-only (module doc). A file
    whose pickle names a global of MMEngine (``HistoryBuffer`` & co.) is MMEngine's own."""
    path, facts = checked_file(path)     # size, zip directory, inflation, CRC
    try:
        if facts is None:       # a legacy pickle or a safetensors file
            raise zipfile.BadZipFile('File is not a zip file')
        names = pickle_globals(facts.pickle) if facts.pickle else frozenset()
    except (zipfile.BadZipFile, *MALFORMED_PICKLE_ERRORS) as err:
        raise OfficialCheckpointError(str(load_error(path, err))) from None
    if any(name.startswith('mmengine.') for name in names):
        raise _not_official(path)
    try:
        return torch_load(path, torch.load, path, allowed=_stand_ins(names), map_location='cpu')
    except CheckpointReadError as err:
        raise OfficialCheckpointError(str(err)) from None


def read_official_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of an official checkpoint, keyed as the authors' model names them."""
    obj = load_official_file(path)
    if isinstance(obj, Mapping) and {'meta', 'state_dict'} <= set(obj):
        raise _not_official(path)
    state = obj.get('state_dict', obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping):
        raise OfficialCheckpointError(f'{path} holds no state dict')
    state = {k[len('model.'):] if k.startswith('model.') else k: v
             for k, v in state.items() if isinstance(v, torch.Tensor)}
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise OfficialCheckpointError(
            f'{path} is not a CLIP4STR checkpoint in the official layout: missing '
            f'{", ".join(missing)} (it holds e.g. {", ".join(sorted(state)[:5]) or "no tensors"})')
    return state


def official_to_plugin(
        state: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename an official state dict: (plugin state dict, official keys nothing maps)."""
    converted, unmapped = {}, []
    for key, value in state.items():
        src = next((s for s, _ in PREFIX_MAP if key.startswith(s)), None)
        if src is not None:
            converted[dict(PREFIX_MAP)[src] + key[len(src):]] = value
        elif key not in DROPPED:
            unmapped.append(key)
    return converted, unmapped
