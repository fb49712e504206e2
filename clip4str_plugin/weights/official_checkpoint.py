"""The authors' CLIP4STR checkpoints: read them weights-only, work out their geometry, rename
their keys for this plugin (the map: :data:`PREFIX_MAP`, docs/model_zoo.md).

The released files are Lightning ``.ckpt`` and Hugging Face ``.pt`` archives (``state_dict`` +
``hyper_parameters``, loop and scheduler states), read by torch's weights-only reader. Each
global of Lightning, omegaconf, torch.optim ... that a file names (found by listing the pickle's
opcodes, nothing run) is allowed for that load as an inert stand-in: a fresh ``OrderedDict``, the
one type torch lets a file fill in with both entries and attributes. Nothing of those libraries
is imported; anything else a file names is refused. The geometry (B/16, B/32, L/14, H/14 or
another) comes from the tensor shapes, never from the file name.
"""
import collections
import pickle
import pickletools
import re
import threading
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from .clip_weights import TEXT_TOWER_KEYS
from .errors import MALFORMED_PICKLE_ERRORS, CheckpointReadError, unpickling_reason
from .loading import check_checkpoint_file

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
#: The released variants by (vision width, patch, vision layers, embed dim, text width, text
#: layers), and their configs.
VARIANTS = {(768, 16, 12, 512, 512, 12): 'clip4str-b16.py',
            (768, 32, 12, 512, 512, 12): 'clip4str-b32.py',
            (1024, 14, 24, 768, 768, 12): 'clip4str-l14.py',
            (1280, 14, 32, 1024, 1024, 24): 'clip4str-h14.py'}
#: How the authors' ``read.py`` normalises crops: ``Normalize(0.5, 0.5)`` on 0-1 pixels, i.e.
#: mean = std = 127.5 on 0-255 RGB. The converter records it in ``meta['normalization']``.
READ_PY_NORMALIZATION = dict(mean=[127.5] * 3, std=[127.5] * 3, source='official read.py')
#: The OpenAI CLIP statistics (0-255, RGB) the authors train and validate with.
OPENAI_NORMALIZATION = dict(mean=[122.770938, 116.7460125, 104.09373615],
                            std=[68.5005327, 66.6321579, 70.32316305],
                            source='OpenAI CLIP (official training and validation)')
_LOCK = threading.Lock()    # torch's allow-list is process-wide: one load at a time adds to it


class OfficialCheckpointError(CheckpointReadError):
    """The file is no official CLIP4STR checkpoint that can be read (one line)."""


class _StandIn:
    """Stands for a class of :data:`LIGHTNING_MODULES`: creating or calling it gives a fresh
    ``OrderedDict`` that the file fills in (entries; ``BUILD`` state as attributes)."""

    def __new__(cls, *args):
        return collections.OrderedDict()


def _getattr_stand_in(obj, name: str) -> collections.OrderedDict:
    """``getattr`` in a file (a pickled bound method of a scheduler): a fresh record, no read."""
    return collections.OrderedDict(getattr=name)


def _stand_ins(path: str) -> List[Tuple[Any, str]]:
    """(stand-in, name) for each global of :data:`LIGHTNING_MODULES` that ``path`` names, for
    ``defaultdict`` and ``getattr``; and the plain types a pickled type or factory names."""
    with zipfile.ZipFile(path) as archive:
        pkl = [n for n in archive.namelist() if n.endswith('/data.pkl') and n.count('/') == 1]
        ops = pickletools.genops(archive.read(pkl[0])) if pkl else ()
        names = {arg.replace(' ', '.') for op, arg, _ in ops if op.name == 'GLOBAL'}
    return [(_StandIn, name) for name in sorted(names)
            if any(name.startswith(module + '.') for module in LIGHTNING_MODULES)] + [
                (_StandIn, 'collections.defaultdict'), (_getattr_stand_in, 'builtins.getattr'),
                *((t, f'builtins.{t.__name__}') for t in (dict, list, tuple, frozenset))]


def _not_official(path: str) -> OfficialCheckpointError:
    return OfficialCheckpointError(
        f'{path} is not an official CLIP4STR checkpoint (it looks like an MMEngine/plugin '
        'checkpoint: use it directly with load_from / tools/test.py)')


def load_official_file(path: str) -> Any:
    """What an official ``.ckpt`` / ``.pt`` file holds, read weights-only (module doc)."""
    path = check_checkpoint_file(path)     # size, zip directory, inflation, CRC
    try:
        with _LOCK, torch.serialization.safe_globals(_stand_ins(path)):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = unpickling_reason(err)
        if 'mmengine.' in reason:      # an MMEngine training checkpoint (HistoryBuffer & co.)
            raise _not_official(path) from None
        if re.search(r'GLOBAL|reduce|Can only', reason):
            raise OfficialCheckpointError(
                f'refusing {path}: {reason}; an official checkpoint may hold only tensors and '
                'plain data, and nothing in it is run (docs/refusals.md)') from None
        raise OfficialCheckpointError(f'cannot read {path}: damaged ({reason})') from None
    except (zipfile.BadZipFile, *MALFORMED_PICKLE_ERRORS) as err:
        raise OfficialCheckpointError(f'cannot read {path}: damaged ({type(err).__name__}: '
                                      f'{str(err)[:200]})') from None


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


def _count_blocks(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    return len({m.group(1) for k in state for m in [pattern.match(k)] if m})


def infer_geometry(state: Mapping[str, torch.Tensor]) -> Dict:
    """Model geometry from the tensor shapes of an official state dict."""
    width, _, patch_h, patch_w = state['clip_model.visual.conv1.weight'].shape
    tokens = state['clip_model.visual.positional_embedding'].shape[0] - 1
    side = int(round(tokens ** 0.5))
    head = state['visual_decoder.head.weight']
    return dict(
        vision=dict(width=int(width), patch_size=int(patch_h) if patch_h == patch_w
                    else (int(patch_h), int(patch_w)),
                    layers=_count_blocks(state, 'clip_model.visual.transformer.resblocks.'),
                    image_size=int(side * patch_h) if side * side == tokens else None),
        embed_dim=int(state['clip_model.visual.proj'].shape[1]),
        text=dict(width=int(state['clip_model.ln_final.weight'].shape[0]),
                  layers=_count_blocks(state, 'clip_model.transformer.resblocks.'),
                  vocab_size=int(state['clip_model.token_embedding.weight'].shape[0]),
                  context_length=int(state['clip_model.positional_embedding'].shape[0])),
        decoder=dict(embed_dim=int(head.shape[1]), num_classes=int(head.shape[0]),
                     depth=_count_blocks(state, 'visual_decoder.layers.'),
                     mlp_ratio=state['visual_decoder.layers.0.linear1.weight'].shape[0]
                     / head.shape[1],
                     max_length=int(state['visual_decoder.pos_queries'].shape[1])))


def variant_of(geometry: Dict) -> Optional[str]:
    """The config file of a released variant with this geometry, or None."""
    v, t = geometry['vision'], geometry['text']
    return VARIANTS.get((v['width'], v['patch_size'], v['layers'], geometry['embed_dim'],
                         t['width'], t['layers']))


def convert(path: str) -> Tuple[Dict[str, torch.Tensor], Dict, List[str], List[str]]:
    """Read and rename an official checkpoint: (plugin state dict, geometry, unmapped keys,
    all official keys)."""
    state = read_official_state_dict(path)
    converted, unmapped = official_to_plugin(state)
    return converted, infer_geometry(state), unmapped, sorted(state)
