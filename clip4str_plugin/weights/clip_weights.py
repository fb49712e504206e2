"""CLIP weights, keyed in the OpenAI layout of open_clip's ``CLIP`` (``visual.*``,
``token_embedding.weight``, ``transformer.*`` ...), from a local file or a name:

- ``'ViT-B-16:openai'``: an open_clip model and pretrained tag, fetched by open_clip;
- ``'hf-hub:org/repo'`` (open_clip's file names) or ``'hf-hub:org/repo/path/in/repo.ext'``:
  huggingface_hub's ``hf_hub_download`` (``HF_HUB_OFFLINE=1`` reads the cache only).

OpenAI's TorchScript ``.pt`` archives are read by ``torch.jit.load`` (TorchScript, not Python;
only the tensors are kept), every other file as a checkpoint (:mod:`.loading`).
"""
import os.path as osp
import re
import warnings
from typing import Dict, Mapping, Optional, Tuple

import torch

from .errors import MALFORMED_PICKLE_ERRORS, CheckpointError, unpickling_reason
from .loading import checked_file, read_checked_file

#: OpenAI-layout keys of the text tower (everything that is not ``visual.*`` or ``logit_scale``).
TEXT_TOWER_KEYS = ('token_embedding.', 'positional_embedding', 'transformer.', 'ln_final.',
                   'text_projection')


class CLIPWeightsError(CheckpointError):
    """CLIP weights missing, unreadable or not matching the model."""


HF_PREFIX = 'hf-hub:'
#: The files open_clip looks for in a Hub repository, in its order of preference.
OPEN_CLIP_HUB_FILES = ('open_clip_model.safetensors', 'open_clip_pytorch_model.bin')
FORMS = ("a local file, an open_clip 'model:tag' such as 'ViT-B-16:openai', or "
         "'hf-hub:org/repo[/file]'")
_FETCH_ONCE = 'fetch it once where there is network (it stays cached), or give a local file'


class WeightsNameError(CheckpointError):
    """A weights name that cannot be resolved to a local file."""


def split_hf_ref(ref: str) -> Tuple[str, Optional[str]]:
    """``'hf-hub:org/repo/sub/file.bin'`` -> ``('org/repo', 'sub/file.bin')``; no file: None."""
    parts = ref[len(HF_PREFIX):].strip('/').split('/')
    if len(parts) < 2 or not all(parts):
        raise WeightsNameError(f'{ref!r} is not a Hub reference: write hf-hub:org/repo or '
                               'hf-hub:org/repo/path/to/file')
    return '/'.join(parts[:2]), '/'.join(parts[2:]) or None


def fetch_from_hub(ref: str) -> str:
    """The cached local file of an ``hf-hub:`` reference (no file named: the first of
    :data:`OPEN_CLIP_HUB_FILES` the repository has), through huggingface_hub's cache."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError,
                                        LocalEntryNotFoundError, RepositoryNotFoundError)
    repo_id, filename = split_hf_ref(ref)
    names = (filename, ) if filename else OPEN_CLIP_HUB_FILES
    unreachable = False
    for name in names:
        try:   # once the Hub proved unreachable, the other names are only looked up in the cache
            return hf_hub_download(repo_id, name, local_files_only=unreachable)
        except LocalEntryNotFoundError:       # not cached, and no network (or offline mode)
            unreachable = True
        except RepositoryNotFoundError:
            raise WeightsNameError(f'cannot fetch {ref}: the Hub has no repository {repo_id} '
                                   'you can read (private or gated ones need `hf auth login`)'
                                   ) from None
        except EntryNotFoundError:
            continue
        except (HfHubHTTPError, OSError) as err:
            raise WeightsNameError(f'cannot fetch {ref}: {str(err).splitlines()[0]}') from None
    if not unreachable:
        raise WeightsNameError(f'cannot fetch {ref}: {repo_id} has no file {" or ".join(names)}')
    why = ('HF_HUB_OFFLINE is set' if constants.HF_HUB_OFFLINE else
           'the Hugging Face Hub cannot be reached')
    raise WeightsNameError(f'cannot fetch {ref}: it is not in the Hugging Face cache '
                           f'({constants.HF_HUB_CACHE}) and {why}; {_FETCH_ONCE}')


def fetch_open_clip(ref: str) -> Optional[str]:
    """The cached local file of open_clip's pretrained weights ``'model:tag'``, fetched by
    open_clip (the Hub or a URL); None when ``ref`` names no open_clip model."""
    from open_clip.pretrained import (download_pretrained, get_pretrained_cfg,
                                      list_pretrained_tags_by_model)
    model, _, tag = ref.partition(':')
    if not tag or '/' in model or not list_pretrained_tags_by_model(model):
        return None
    cfg = get_pretrained_cfg(model, tag)
    if not cfg:
        raise WeightsNameError(f'open_clip has no weights {ref!r}; the tags of {model} are: '
                               + ', '.join(list_pretrained_tags_by_model(model)))
    try:
        return download_pretrained(cfg)
    except (OSError, RuntimeError, ValueError) as err:   # network, HTTP and Hub errors
        raise WeightsNameError(f'cannot fetch {ref}: {" ".join(str(err).split())}; '
                               f'{_FETCH_ONCE}') from None


def resolve_weights(ref: str) -> str:
    """A local path for ``ref``: an existing file, or a name fetched into its cache; anything
    else unchanged (the reader then reports the missing file)."""
    ref = str(ref)
    if osp.exists(osp.expanduser(ref)):
        return osp.expanduser(ref)
    if ref.startswith(HF_PREFIX):
        return fetch_from_hub(ref)
    return fetch_open_clip(ref) or ref


def _read_tensors(path: str) -> Mapping:
    path, facts = checked_file(path)      # size, zip directory, inflation, CRC
    if facts is None or not facts.torchscript:
        obj = read_checked_file(path, facts)
        for key in ('state_dict', 'model', 'module'):     # wrappers around the state dict
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
        return obj
    try:
        with warnings.catch_warnings():     # (torch >= 2.10 says TorchScript is deprecated)
            warnings.simplefilter('ignore', FutureWarning)
            return torch.jit.load(path, map_location='cpu').state_dict()
    except MALFORMED_PICKLE_ERRORS as err:
        raise CLIPWeightsError(f'cannot read CLIP weights from {path}: the file is corrupt, '
                               'truncated or not a weights file ('
                               f'{type(err).__name__}: {unpickling_reason(err)})') from None


def load_clip_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of CLIP weights (a local file or a name, module doc), OpenAI-keyed."""
    try:
        path = resolve_weights(path)
        if not osp.isfile(path):
            raise CLIPWeightsError(f'CLIP weights file not found: {path} (CLIP weights are '
                                   f'{FORMS})')
        tensors = _read_tensors(path)
    except CLIPWeightsError:
        raise
    except CheckpointError as err:  # not fetched, unreadable, refused, sparse rows that do not fit
        raise CLIPWeightsError(str(err)) from None
    state = {re.sub(r'^(module\.)?(clip_model\.)?', '', key): value
             for key, value in tensors.items() if isinstance(value, torch.Tensor)}
    if not state:
        raise CLIPWeightsError(f'{path} contains no tensors')
    return state
