"""Carry a pre-trained PARSeq network (DPTR: trained from text only) into another model's decoder.

Two sources: an MMEngine checkpoint, whose network sits under a key prefix
(``'decoder.decoder.'`` for DPTR pre-training), or a *decoder file* (:func:`save_decoder_file`):
``.safetensors`` holding one network's tensors under their own names, with JSON metadata (format,
geometry, dictionary, source checkpoint). Both are read weights-only.
"""
import json
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
from safetensors.torch import save as safetensors_bytes
from terminaltables import AsciiTable

from ...fileio import write_atomically
from ...weights.errors import CheckpointError
from ...weights.loading import load_checkpoint_file
from ..load_checks import listing, value_error, value_problems

#: ``meta['format']`` of a decoder file: its keys are one network's, without prefix.
DECODER_FILE_FORMAT = 'clip4str_plugin/parseq-network'


class PretrainedDecoderError(CheckpointError):
    """A pre-trained decoder that cannot be carried over: nothing or only part of it loads, or
    another alphabet."""


def save_decoder_file(network: torch.nn.Module, path: str, meta: Mapping) -> None:
    """Write ``network``'s tensors to ``path`` (``.safetensors``, atomically) with ``meta``
    (JSON-able: geometry, dictionary, source checkpoint, ...) and the decoder-file format.
    A network with NaN or infinite weights (a diverged run) is refused, nothing written."""
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    problems = value_problems(state, state)
    if problems:
        raise value_error(f'the decoder network to be written to {path}', problems,
                          PretrainedDecoderError)
    meta = dict(meta, format=DECODER_FILE_FORMAT)
    write_atomically(path, safetensors_bytes(state, metadata={'meta': json.dumps(meta)}))


def read_decoder_source(checkpoint: str, prefix: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """``(tensors named as in the network, meta)`` of a decoder file, or of the checkpoint's
    tensors under ``prefix`` (prefix removed)."""
    ckpt = load_checkpoint_file(checkpoint, map_location='cpu')
    state, meta = ckpt.get('state_dict', ckpt), ckpt.get('meta') or {}
    if meta.get('format') == DECODER_FILE_FORMAT:
        return dict(state), meta
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, meta


def _holds(checkpoint: str) -> str:
    """A few of the file's keys, for messages."""
    ckpt = load_checkpoint_file(checkpoint, map_location='cpu')
    keys = sorted(ckpt.get('state_dict', ckpt))
    return f'{len(keys)} tensors, e.g. {", ".join(keys[:4])}' if keys else 'no tensors'


def check_dictionary(meta: Mapping, tokens: Sequence[str], checkpoint: str) -> None:
    """A decoder file names its dictionary's tokens: refuse another alphabet (the head's rows
    would mean other characters)."""
    source = meta.get('dictionary')
    if source is None or list(source) == list(tokens):
        return
    at = next((i for i, (a, b) in enumerate(zip(source, tokens)) if a != b),
              min(len(source), len(tokens)))
    theirs, ours = (repr(t[at]) if at < len(t) else 'none' for t in (source, tokens))
    raise PretrainedDecoderError(
        f'{checkpoint} was trained for another dictionary ({len(source)} tokens; this model '
        f'{len(tokens)}; token {at} is {theirs} there, {ours} here): pre-train with the same '
        'dict_file')


def _status(source, value: torch.Tensor, key: str, skip: Sequence[str]) -> str:
    if key.startswith(tuple(skip)):
        return 'kept init: skipped'
    if source is None:
        return 'kept init: not in file'
    if source.shape != value.shape:
        return f'kept init: file has {tuple(source.shape)}'
    return 'loaded'


def transfer_decoder(networks: Mapping[str, torch.nn.Module], checkpoint: str, prefix: str,
                     tokens: Sequence[str], skip: Sequence[str] = ()
                     ) -> Tuple[List[Tuple[str, str, str]], str]:
    """Copy the source network (see :func:`read_decoder_source`) into every one of
    ``networks`` (name -> module), tensor by tensor; ``tokens``: the model's dictionary
    (checked against a decoder file's, :func:`check_dictionary`); ``skip``: the networks'
    tensor names (or their starts, e.g. ``'head.'``) left at their initialisation on purpose.

    Returns rows ``(tensor, shape, status)``, status ``'loaded'`` or why the tensor stayed at
    its initialisation, and what was read (``'the decoder file'`` or ``"prefix '...'"``).
    Raises :class:`PretrainedDecoderError`, before any tensor is copied, when no tensor loads,
    when a tensor not in ``skip`` would stay at its initialisation (missing from the file, or
    of another shape), or when a tensor that would load is not a finite float.
    """
    picked, meta = read_decoder_source(checkpoint, prefix)
    check_dictionary(meta, tokens, checkpoint)
    problems = [problem for network in networks.values()
                for problem in value_problems(network.state_dict(), picked)]
    if problems:
        raise value_error(checkpoint, sorted(set(problems)), PretrainedDecoderError)
    where = ('the decoder file' if meta.get('format') == DECODER_FILE_FORMAT
             else f'prefix {prefix!r}')
    plan = [(name, key, value, _status(picked.get(key), value, key, skip))
            for name, network in networks.items() for key, value in network.state_dict().items()]
    loaded = sum(status == 'loaded' for *_, status in plan)
    if not loaded:
        raise PretrainedDecoderError(
            f'no tensor of {checkpoint} ({where}) fits {", ".join(networks)}: the file holds '
            f'{_holds(checkpoint)}; give a DPTR pre-training checkpoint or decoder file of '
            'this geometry (and the prefix of its network)')
    left = [f'{name}.{key} ({status[len("kept init: "):]})'
            for name, key, _, status in plan if status.startswith('kept init: ')
            and status != 'kept init: skipped']
    if left:
        raise PretrainedDecoderError(
            f'{checkpoint} ({where}) covers {loaded} of {len(plan)} tensors of '
            f'{", ".join(networks)}; {len(left)} would keep their initialisation: '
            f'{listing(left, 4)}; give the whole network (an OpenOCR checkpoint: convert it '
            "with tools/convert_openocr_dptr.py), or list what to leave in DecoderTransferHook's "
            'skip')
    with torch.no_grad():
        for name, key, value, status in plan:
            if status == 'loaded':
                value.copy_(picked[key])
    return [(f'{name}.{key}', str(tuple(value.shape)), status)
            for name, key, value, status in plan], where


def transfer_table(rows: Sequence[Tuple[str, str, str]]) -> str:
    """An ASCII table of :func:`transfer_decoder`'s rows, with a count per status."""
    counts: Dict[str, int] = {}
    for _, _, status in rows:
        counts[status] = counts.get(status, 0) + 1
    summary = ', '.join(f'{n} {status}' for status, n in counts.items())
    return f'{summary}\n' + AsciiTable([['tensor', 'shape', 'status'], *rows]).table
