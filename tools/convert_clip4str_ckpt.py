"""Convert an official CLIP4STR checkpoint into an MMOCR checkpoint of this plugin.

    python tools/convert_clip4str_ckpt.py clip4str_base16x16_d70bde1f2d.ckpt clip4str_b16_real.pth
    python tools/convert_clip4str_ckpt.py clip4str_huge_3e942729b1.pt h14_dfn.pth --safetensors
    python tools/convert_clip4str_ckpt.py \
        hf-hub:mzhaoshuai/CLIP4STR/clip4str_base_6e9fe947ac.pt b16.pth

Reads Lightning ``.ckpt`` and Hugging Face ``.pt`` files without running any code from them,
works out the geometry (B/16, B/32, L/14, H/14, or another) from the tensor shapes, renames the
keys (docs/model_zoo.md), checks them against the plugin model of the matching config and writes
``{'state_dict', 'meta'}`` (an existing ``dst`` only with ``--overwrite``, never the source itself);
``meta['cfg']`` holds the full config, so the file alone rebuilds the
model on any machine (``TextRecInferencer(model=None, weights=...)``, ``tools/infer.py``): the
shipped dictionary is named, not located (``dict_file='charset_94.txt'``), and the original CLIP
weights are not needed. ``meta['normalization']`` records how the authors' ``read.py`` normalises
crops (mean = std = 0.5), and the embedded config's data preprocessor uses the same statistics
(the tools' ``--norm openai`` chooses the training ones; docs/model_zoo.md).

``--dict-file charset_greek.txt`` (a shipped dictionary's name, or a path) converts for
fine-tuning on another charset: the classifier's and the token embedding's rows of characters in
both dictionaries are kept, new characters get freshly initialised rows, the rest is unchanged
(clip4str_plugin/models/parseq/charset_remap.py; docs/charsets.md).
"""
import argparse
import io
import json
import os.path as osp
import re
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from clip4str_plugin.cli.checks import check_config, check_output_file
from clip4str_plugin.cli.norm_option import READ_PY_NORMALIZATION
from clip4str_plugin.fileio import (NoSpaceError, file_sha256, refuse_existing_output,
                                     write_atomically)
from clip4str_plugin.text.charsets import CHARSET_36, charset_of, shipped_name
from clip4str_plugin.models.parseq.charset_remap import CharsetRemapError, describe, remap_for_model
from clip4str_plugin.weights.errors import CheckpointError
from clip4str_plugin.weights.clip_weights import resolve_weights
from clip4str_plugin.weights.official_checkpoint import (DROPPED, official_to_plugin,
                                                         read_official_state_dict)

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'clip4str')
#: The released variants by (vision width, patch, vision layers, embed dim, text width, text
#: layers), and their configs.
VARIANTS = {(768, 16, 12, 512, 512, 12): 'clip4str-b16.py',
            (768, 32, 12, 512, 512, 12): 'clip4str-b32.py',
            (1024, 14, 24, 768, 768, 12): 'clip4str-l14.py',
            (1280, 14, 32, 1024, 1024, 24): 'clip4str-h14.py'}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official .ckpt / .pt file, or the file on the Hugging Face '
                        'Hub: hf-hub:mzhaoshuai/CLIP4STR/clip4str_base_6e9fe947ac.pt (cached)')
    parser.add_argument('dst', help='output .pth (or .safetensors with --safetensors)')
    parser.add_argument('--config', help='config to check against (default: from the shapes)')
    parser.add_argument('--dict-file', help='the dictionary to convert to (a shipped name such '
                        'as charset_greek.txt, or a file): head and embedding rows remapped by '
                        'character')
    parser.add_argument('--safetensors', action='store_true',
                        help='write safetensors (the config goes into its metadata)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing dst')
    return parser.parse_args()


def _count_blocks(state: dict, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    return len({m.group(1) for k in state for m in [pattern.match(k)] if m})


def infer_geometry(state: dict) -> dict:
    """The model geometry of an official state dict, from its tensor shapes (never the name)."""
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


def variant_of(geometry: dict):
    """The config file of a released variant with this geometry, or None."""
    v, t = geometry['vision'], geometry['text']
    return VARIANTS.get((v['width'], v['patch_size'], v['layers'], geometry['embed_dim'],
                         t['width'], t['layers']))


def config_for(geometry: dict, config_path: str = None, dict_file: str = None) -> Config:
    """The plugin config of this geometry: a released variant's file, or the base config with
    the geometry filled in. CLIP weights paths are cleared: the checkpoint carries them."""
    variant = variant_of(geometry)
    path = config_path or osp.join(CONFIG_DIR, variant or '_base_clip4str.py')
    cfg = Config.fromfile(path)
    model = cfg.model
    if not config_path and not variant:
        v, t, d = geometry['vision'], geometry['text'], geometry['decoder']
        model.backbone.update(embed_dim=geometry['embed_dim'], width=v['width'],
                              layers=v['layers'], patch_size=v['patch_size'],
                              heads=v['width'] // 64)
        if v['image_size']:
            model.backbone.image_size = v['image_size']
        model.decoder.text_encoder.update(
            embed_dim=geometry['embed_dim'], width=t['width'], layers=t['layers'],
            heads=t['width'] // 64, vocab_size=t['vocab_size'],
            context_length=t['context_length'])
        model.decoder.decoder.update(embed_dim=d['embed_dim'], depth=d['depth'],
                                     mlp_ratio=d['mlp_ratio'])
        model.decoder.max_seq_len = d['max_length'] - 1
    model.backbone.pretrained = None
    model.decoder.text_encoder.pretrained = None
    # Crops read as the authors' read.py reads them (tools' --norm openai: the training stats).
    model.data_preprocessor.update(mean=list(READ_PY_NORMALIZATION['mean']),
                                   std=list(READ_PY_NORMALIZATION['std']))
    if dict_file:
        model.decoder.dictionary.dict_file = shipped_name(dict_file) or osp.abspath(dict_file)
        # The cross branch's captions: a dictionary of another script needs CLIP to read its
        # letters (the reference's 36 characters would leave every caption empty).
        chars = charset_of(model.decoder.dictionary.dict_file)
        caption = model.decoder.get('text_charset', CHARSET_36)
        if not any(c.isalpha() and c in caption for c in chars):
            model.decoder.text_charset = ''.join(c for c in chars if c.isalnum())
    name_shipped_dicts(cfg._cfg_dict)
    return cfg


def name_shipped_dicts(node) -> None:
    """Replace every ``dict_file`` that is one of the shipped dictionaries by its bare name,
    which PARSeqDictionary finds inside the installed package on any machine."""
    if isinstance(node, dict):
        for key in list(node):
            value = node[key]
            if key == 'dict_file' and isinstance(value, str) and shipped_name(value):
                node[key] = shipped_name(value)
            else:
                name_shipped_dicts(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            name_shipped_dicts(item)


def check_against(cfg: Config, state: dict):
    """Missing keys and shape mismatches of ``state`` for the model of ``cfg``."""
    from mmocr.registry import MODELS
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state)
    unexpected = sorted(k for k in state if k not in own)
    mismatched = [f'{k}: checkpoint {tuple(state[k].shape)} vs config {tuple(v.shape)}'
                  for k, v in own.items() if k in state and state[k].shape != v.shape]
    return missing, unexpected, mismatched


def main():
    args = parse_args()
    init_default_scope('mmocr')
    check_output_file(args.dst, 'DST')
    if args.config is not None:
        check_config(args.config, '--config')
    refuse_existing_output(args.dst, args.overwrite, [args.src])
    try:
        src = resolve_weights(args.src)
        refuse_existing_output(args.dst, args.overwrite, [src])    # the cached Hub file
        official = read_official_state_dict(src)
    except CheckpointError as err:     # not found, unreadable, refused, not official
        sys.exit(f'error: {err}')
    state, unmapped = official_to_plugin(official)
    geometry = infer_geometry(official)
    variant = variant_of(geometry)
    cfg = config_for(geometry, args.config, args.dict_file)
    remapped = None
    if args.dict_file:
        try:
            state, remapped = remap_for_model(
                state, config_for(geometry, args.config).model.decoder.dictionary, cfg.model)
        except (CharsetRemapError, ValueError) as err:
            sys.exit(f'error: {err}')
    missing, unexpected, mismatched = check_against(cfg, state)
    print(f'source: {args.src}' + (f' ({src})' if src != args.src else ''))
    print(f'geometry: {json.dumps(geometry)}')
    print(f'config: {args.config or variant or "base config + the geometry above"}')
    print(f'keys mapped: {len(state)}; official keys left unmapped: {len(unmapped)}'
          + (f' ({", ".join(unmapped[:5])})' if unmapped else ''))
    if remapped:
        print(describe(remapped))
    dropped = sorted(k for k in DROPPED if k in official)
    if dropped:
        print(f'official keys not used by CLIP4STR, dropped: {", ".join(dropped)}')
    if missing or unexpected or mismatched:
        for title, items in (('missing', missing), ('unexpected', unexpected),
                             ('shape mismatch', mismatched)):
            if items:
                print(f'{title}: {len(items)}: ' + '; '.join(items[:6]))
        sys.exit('error: the checkpoint does not match the config; nothing written')
    digest = file_sha256(src)
    meta = dict(cfg=cfg.pretty_text, config=args.config or variant or 'custom geometry',
                geometry=geometry, converted_from=osp.basename(args.src), source_sha256=digest,
                normalization=READ_PY_NORMALIZATION)
    # serialised in memory, then written through a temporary file and renamed (a reader sees
    # no half-written file); torch's own file writer turns a full disk into a bare RuntimeError
    if args.safetensors:
        from safetensors.torch import save as safetensors_bytes
        data = safetensors_bytes({k: v.contiguous() for k, v in state.items()},
                                 metadata={'meta': json.dumps(meta)})
    else:
        buffer = io.BytesIO()
        torch.save(dict(state_dict=state, meta=meta), buffer)
        data = buffer.getbuffer()
    try:
        write_atomically(args.dst, data)
    except NoSpaceError as err:
        sys.exit(f'error: {err}')
    print(f'wrote {args.dst} ({len(state)} tensors, no shape mismatch)')
    if args.dict_file and osp.dirname(cfg.model.decoder.dictionary.dict_file):
        print(f'note: the checkpoint names its dictionary by path ({osp.abspath(args.dict_file)}); '
              'copy that file along with it')


if __name__ == '__main__':
    main()
