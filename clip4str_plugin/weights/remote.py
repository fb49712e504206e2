"""Checkpoints named by URL or model-zoo name, read weights-only like local files.

MMEngine's ``http(s)://``, ``torchvision://``, ``open-mmlab://`` and ``mmcls://`` loaders end in
``torch.hub.load_state_dict_from_url``, which unpickles with ``weights_only=False``: a downloaded
file could run code. Here the file goes into torch.hub's cache, in a folder of its own per URL
(``<hub dir>/checkpoints/<URL hash>/``, by torch.hub's ``download_url_to_file``; rank 0 first in
distributed runs, as MMEngine does) and is then read by
:func:`~.mmengine_loader.load_checkpoint_file`. The zoo names resolve through MMEngine's own
tables. ``pavi://`` and ``s3://`` / ``petrel://`` keep MMEngine's own loaders (they need
MMEngine's file clients, which this module cannot replace): such files are unpickled as MMEngine
alone would; copy one to a local path to read it weights-only.
"""
import hashlib
import os
import os.path as osp
import sys
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.runner import checkpoint as mmengine_checkpoint

from .errors import CheckpointReadError
from .mmengine_loader import load_checkpoint_file


def cached_path(url: str) -> str:
    """Where ``url`` is kept: ``<hub dir>/checkpoints/<16 hex of the URL's SHA-256>/<file name>``
    (two URLs of the same file name never share a copy)."""
    key = hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]
    return osp.join(torch.hub.get_dir(), 'checkpoints', key, osp.basename(urlparse(url).path))


def download(url: str) -> str:
    """The local copy of ``url`` in torch.hub's checkpoint cache, downloaded if absent."""
    cached = cached_path(url)
    if not osp.isfile(cached):
        os.makedirs(osp.dirname(cached), exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, cached, progress=sys.stderr.isatty())
        except (OSError, ValueError) as err:       # URLError and HTTPError are OSErrors
            raise CheckpointReadError(f'cannot download checkpoint {url}: {err}') from None
    return cached


def load_from_url(url: str, map_location=None):
    """Download ``url`` (once per machine) and read it weights-only."""
    rank, world_size = get_dist_info()
    if rank == 0:
        path = download(url)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = download(url)
    return load_checkpoint_file(path, map_location)


def load_from_zoo(name: str, map_location=None):
    """``torchvision://resnet18``, ``open-mmlab://...``, ``mmcls://...``: MMEngine's tables give
    the URL (or a file under MMEngine's home), which is read weights-only."""
    scheme, _, model = name.partition('://')
    if scheme in ('torchvision', 'modelzoo'):
        table = mmengine_checkpoint.get_torchvision_models()
    elif scheme == 'mmcls':
        table = mmengine_checkpoint.get_mmcls_models()
    else:
        table = mmengine_checkpoint.get_external_models()
        model = mmengine_checkpoint.get_deprecated_model_names().get(model, model)
    if model not in table:
        raise CheckpointReadError(f'{name}: MMEngine knows no {scheme} model {model!r}')
    location = table[model]
    if location.startswith(('http://', 'https://')):
        checkpoint = load_from_url(location, map_location)
    else:
        checkpoint = load_checkpoint_file(
            osp.join(mmengine_checkpoint._get_mmengine_home(), location), map_location)
    return mmengine_checkpoint._process_mmcls_checkpoint(checkpoint) if scheme == 'mmcls' \
        else checkpoint


#: (prefixes, loader) for CheckpointLoader.register_scheme; prefixes as MMEngine spells them.
REMOTE_LOADERS = [
    (('http://', 'https://'), load_from_url),
    (('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://', 'mmcls://'),
     load_from_zoo),
]
