"""MMEngine's checkpoint loaders made weights-only; importing this module is the switch.

A config lists it after the plugin in ``custom_imports`` (the tools call
:func:`use_weights_only_loader`): ``load_from``, ``resume``, ``init_cfg`` and the inferencers'
weights (local files, http(s) URLs, model-zoo names) are then read by
:func:`~.loading.load_checkpoint_file` for every model of the process. torch's default reader
refuses MMEngine's training checkpoints, and only this one re-writes a checkpoint's config as
data. pavi / s3 / petrel keep MMEngine's loaders; ``import clip4str_plugin`` alone changes nothing.
"""
import hashlib
import os
import os.path as osp
import sys
from typing import Mapping
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import CheckpointReadError
from .loading import load_checkpoint_file


def load_from_weights_only(filename: str, map_location=None) -> Mapping:
    """Local files, the weights mapped (MMEngine copies them into the model, then drops them)."""
    return load_checkpoint_file(filename, map_location, mmap=True)


def cached_path(url: str) -> str:
    """``<hub dir>/checkpoints/<16 hex of the URL's SHA-256>``: one folder per URL."""
    key = hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]
    return osp.join(torch.hub.get_dir(), 'checkpoints', key)


def load_from_url(url: str, map_location=None) -> Mapping:
    """``url`` downloaded once (rank 0 first) into :func:`cached_path`, read weights-only."""

    def fetch():
        # downloaded whole first (torch.hub's temporary file, renamed when complete), then read
        # as a local file: the same byte checks, safetensors and the same messages
        path = osp.join(cached_path(url), osp.basename(urlparse(url).path) or 'checkpoint')
        if not osp.isfile(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            try:
                torch.hub.download_url_to_file(url, path, progress=sys.stderr.isatty())
            except (OSError, ValueError) as err:      # URLError, HTTPError; unknown URL types
                raise CheckpointReadError(f'cannot download checkpoint {url}: {err}') from None
        return load_checkpoint_file(path, map_location)

    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = fetch()
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = fetch()
    return checkpoint


def load_from_zoo(name: str, map_location=None) -> Mapping:
    """A model-zoo name: the URL (or file under MMEngine's home) of MMEngine's tables."""
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
    checkpoint = load_from_url(location, map_location) if location.startswith('http') else \
        load_checkpoint_file(osp.join(mmengine_checkpoint._get_mmengine_home(), location),
                             map_location)
    return mmengine_checkpoint._process_mmcls_checkpoint(checkpoint) if scheme == 'mmcls' \
        else checkpoint


def use_weights_only_loader() -> None:
    """The switch (idempotent): MMEngine's ``CheckpointLoader`` uses the loaders above."""
    for loader, prefixes in ((load_from_weights_only, ('', )),
                             (load_from_url, ('http://', 'https://')),
                             (load_from_zoo, ('torchvision://', 'modelzoo://', 'open-mmlab://',
                                              'openmmlab://', 'mmcls://'))):
        CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader, force=True)


use_weights_only_loader()
