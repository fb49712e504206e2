"""Export the CLIP of a ContrastiveCLIP training checkpoint as a CLIP weights file.

    python tools/export_clip.py work_dirs/clip-tiny_synth-broad/best_retrieval_top1_iter_N.pth \\
        assets/clip/clip_tiny_words.safetensors [--fp32] [--token-rows spelled] [--overwrite]

The output holds the OpenAI-layout keys only (``visual.*``, ``token_embedding.weight``,
``positional_embedding``, ``transformer.*``, ``ln_final.*``, ``text_projection``,
``logit_scale``), fp16 by default, as ``.safetensors`` (or ``.bin``: a plain state dict); the
towers' ``pretrained=`` (a config's ``clip_pretrained``) loads it. In ``.safetensors`` a token
embedding whose rows are mostly zero (``--token-rows spelled``) is stored as its non-zero rows
(``clip4str_plugin.weights.sparse_rows``: 14.8 MB -> about 2 MB for the small CLIP); the loader
makes it dense again. The checkpoint is read as data only. Prints the size on disk, the
gzip-compressed size and how many token-embedding rows are non-zero.
"""
import argparse
import gzip
import json
import os

import torch

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.cli.checks import check_output_file
from clip4str_plugin.fileio import NoSpaceError, refuse_existing_output
from clip4str_plugin.models.clip.contrastive import clip_state_dict
from clip4str_plugin.models.clip import towers
from clip4str_plugin.text.charsets import CHARSET_36
from clip4str_plugin.weights.errors import CheckpointError
from clip4str_plugin.weights.loading import load_checkpoint_file
from clip4str_plugin.weights.sparse_rows import save_file_sparse_rows


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='an MMEngine checkpoint of a ContrastiveCLIP run')
    parser.add_argument('out', help='.safetensors or .bin')
    parser.add_argument('--fp32', action='store_true', help='keep fp32 (default: fp16)')
    parser.add_argument('--token-rows', choices=['all', 'spelled'], default='all',
                        help="'spelled': zero every BPE embedding row that spelled captions "
                             '(one token per character of 0-9a-z, start and end of text) never '
                             'read, e.g. rows left over from a warm start on plain captions')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing out')
    return parser.parse_args()


def spelled_token_ids():
    """BPE ids read by spelled captions: start / end of text and one per character."""
    return sorted({i for char in CHARSET_36 for i in towers.encode(char, 3)})


def export(checkpoint: str, out: str, fp16: bool = True, token_rows: str = 'all') -> dict:
    """Write the CLIP weights of ``checkpoint`` to ``out``; returns a small report. Raises
    :class:`CheckpointError` when the file is unreadable or holds no ContrastiveCLIP."""
    ckpt = load_checkpoint_file(checkpoint)   # data only, never code
    state = clip_state_dict(ckpt.get('state_dict', ckpt), torch.float16 if fp16 else None)
    if not any(k.startswith('visual.') for k in state) or 'token_embedding.weight' not in state:
        raise CheckpointError(f'{checkpoint} holds no ContrastiveCLIP weights (vision.visual.*, '
                              'text.text.*): is it a checkpoint of configs/clip/?')
    if token_rows == 'spelled':     # exact +0.0 (a product would leave -0.0: no long runs)
        table = state['token_embedding.weight'].clone()
        drop = torch.ones(table.shape[0], dtype=torch.bool)
        drop[spelled_token_ids()] = False
        table[drop] = 0
        state['token_embedding.weight'] = table
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if out.endswith('.safetensors'):
        save_file_sparse_rows(state, out, {'source': os.path.basename(checkpoint),
                                           'dtype': 'fp16' if fp16 else 'fp32'},
                              names=['token_embedding.weight'])
    else:
        torch.save(state, out)
    with open(out, 'rb') as f:
        compressed = len(gzip.compress(f.read(), compresslevel=9))
    rows = state['token_embedding.weight'].float().abs().sum(1)
    return dict(tensors=len(state), params=sum(v.numel() for v in state.values()),
                bytes=os.path.getsize(out), gzip_bytes=compressed,
                nonzero_token_rows=int((rows > 0).sum()), token_rows=int(rows.numel()))


def main():
    args = parse_args()
    check_output_file(args.out, 'OUT')
    refuse_existing_output(args.out, args.overwrite, [args.checkpoint])
    try:
        report = export(args.checkpoint, args.out, fp16=not args.fp32,
                        token_rows=args.token_rows)
    except (CheckpointError, NoSpaceError) as err:
        raise SystemExit(f'error: {err}') from None
    print(f'wrote {args.out}: ' + json.dumps(report))


if __name__ == '__main__':
    main()
