"""Convert an OpenOCR DPTR pre-training checkpoint (``DptrParseq``) into one of this plugin.

    python tools/convert_openocr_dptr.py output/dptr_parseq/best.pth dptr_pretrained.pth

The source is read weights-only (the package's loader; OpenOCR's ``tools/utils/ckpt.py`` writes
``{'state_dict', 'config', 'epoch', ...}``). Its decoder (``decoder.``: ``pos_queries``,
``text_embed``, ``decoder.layers`` / ``decoder.norm``, ``head``) becomes the PARSeq network of
the DPTR pre-training model (``decoder.decoder.``); the CLIP model stored beside it
(``decoder.clip_encoder.``) is dropped. The output ``{'state_dict', 'meta'}`` loads into a DPTR
pre-training config of the same geometry and starts fine-tuning or CLIP4STR's decoders through
``DecoderTransferHook`` (default prefix) whole. Only OpenOCR's English dictionary (94 characters,
``EN_symbol_dict.txt``: the order of ``charset_94.txt``) is supported. A bad source, an existing
``dst`` (without ``--overwrite``) or the source as ``dst`` ends with ``error: <message>``.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Mapping

import torch

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.fileio import atomic_path, refuse_existing_output
from clip4str_plugin.models.parseq.dictionary import PARSeqDictionary
from clip4str_plugin.weights.errors import CheckpointError
from clip4str_plugin.weights.loading import load_checkpoint_file

SOURCE = 'decoder.'                   # OpenOCR's recognizer holds DptrParseq under 'decoder.'
TARGET = 'decoder.decoder.'           # PARSeqRecDecoder's network in this plugin
DROPPED = 'clip_encoder.'             # the frozen CLIP stored in every pre-training checkpoint
NETWORK = ('pos_queries', 'text_embed.', 'head.')     # kept names; 'decoder.' is unwrapped
HEAD_ROWS = 95                        # 94 characters + [E]


class OpenOCRLayoutError(CheckpointError):
    """A file that is not an OpenOCR DPTR (``DptrParseq``) checkpoint of the English set."""


def convert(state: Mapping[str, torch.Tensor], src: str) -> Dict[str, torch.Tensor]:
    """OpenOCR's state dict -> the plugin's (``decoder.decoder.<network key>``)."""
    out, unknown = {}, []
    for key, value in state.items():
        name = key[len(SOURCE):] if key.startswith(SOURCE) else None
        if name is None:
            unknown.append(key)
        elif name.startswith(DROPPED):
            continue
        elif name.startswith('decoder.layers.') or name.startswith('decoder.norm.'):
            out[TARGET + name[len('decoder.'):]] = value
        elif name.startswith(NETWORK):
            out[TARGET + name] = value
        else:
            unknown.append(key)
    if unknown or not out:
        raise OpenOCRLayoutError(
            f'{src} is not an OpenOCR DPTR checkpoint (keys under decoder.pos_queries, '
            f'decoder.text_embed, decoder.decoder.layers, decoder.head): '
            + (f'unexpected keys {sorted(unknown)[:4]}' if unknown else 'no such key'))
    head = out.get(TARGET + 'head.weight')
    if head is None or head.shape[0] != HEAD_ROWS:
        rows = 'none' if head is None else head.shape[0]
        raise OpenOCRLayoutError(f'{src}: the head predicts {rows} classes; only OpenOCR\'s '
                                 f'94-character English set ({HEAD_ROWS}) converts')
    return out


def geometry(state: Mapping[str, torch.Tensor]) -> dict:
    """The network's width, depth and position queries, from the shapes."""
    layers = {k.split('.')[3] for k in state if k.startswith(TARGET + 'layers.')}
    return dict(embed_dim=state[TARGET + 'head.weight'].shape[1], depth=len(layers),
                max_length=state[TARGET + 'pos_queries'].shape[1])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="OpenOCR checkpoint (its tools/utils/ckpt.py's .pth)")
    parser.add_argument('dst', help='the plugin checkpoint to write (.pth)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing dst')
    return parser.parse_args()


def main():
    args = parse_args()
    refuse_existing_output(args.dst, args.overwrite, [args.src])
    try:
        ckpt = load_checkpoint_file(args.src, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise OpenOCRLayoutError(f'{args.src} holds no state dict')
        converted = convert(state, args.src)
    except CheckpointError as err:
        sys.exit(f'error: {err}')
    tokens = PARSeqDictionary(dict_file='charset_94.txt').dict
    meta = dict(source=osp.basename(args.src), source_format='OpenOCR DptrParseq',
                geometry=geometry(converted), dictionary=list(tokens))
    with atomic_path(args.dst) as temporary:
        torch.save({'state_dict': converted, 'meta': meta}, temporary)
    print(f'{args.dst}: {len(converted)} tensors ({meta["geometry"]}) from {args.src}; '
          f'{len(state) - len(converted)} dropped (CLIP)')


if __name__ == '__main__':
    main()
