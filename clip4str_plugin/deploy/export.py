"""Export a CLIP4STR recognizer to ONNX graphs (:mod:`.graphs`) plus a manifest.

torch's TorchScript-based exporter is used (``dynamo=False``): with the AR step given as an
input it traces every graph exactly, with dynamic batch and sequence axes, in about a second per
graph (the ``torch.export`` exporter takes ten times longer per graph for the same ONNX).
"""
import os
import os.path as osp
import warnings
from typing import Dict, Optional

import torch
from torch import nn

from ..models.clip4str.decoder import CLIP4STRDecoder
from .errors import DeployError
from .graphs import graph_specs, image_size
from .manifest import FORMAT, checkpoint_record, write_manifest

DEFAULT_OPSET = 17
DICT_FILE = 'dict.txt'


def _export_graph(spec: dict, path: str, opset: int) -> None:
    # the exporter puts the module back in the mode it found it in: eval, for the shared parts
    module = spec['module'].eval()
    with warnings.catch_warnings():   # the exporter's deprecation note and tracer remarks
        warnings.simplefilter('ignore')
        torch.onnx.export(module, spec['args'], path, dynamo=False,
                          input_names=spec['input_names'], output_names=spec['output_names'],
                          dynamic_axes=spec['dynamic_axes'], opset_version=opset,
                          do_constant_folding=True)


def decoding_record(decoder: CLIP4STRDecoder) -> Dict:
    """What the decode loop needs of ``decoder``: ids, lengths, options, the caption table."""
    net = decoder.visual_decoder
    return dict(max_length=net.max_length, bos_id=net.bos_id, eos_id=net.eos_id,
                num_classes=net.head.out_features, depth=len(net.layers),
                decode_ar=bool(decoder.decode_ar), refine_iters=int(decoder.refine_iters),
                text_length=decoder.text_encoder.text_length,
                caption_chars=list(decoder._caption_chars), caption_style=decoder.caption_style)


def export_recognizer(model: nn.Module, out_dir: str, preprocessor: Dict,
                      checkpoint: Optional[str] = None, opset: int = DEFAULT_OPSET) -> Dict:
    """Write ``model``'s graphs, ``dict.txt`` and ``manifest.json`` into ``out_dir``.

    ``preprocessor``: the config's ``data_preprocessor`` (normalisation, channel order), kept in
    the manifest; ``checkpoint``: the weights' file, whose SHA-256 the manifest records.
    Returns the manifest.
    """
    decoder = getattr(model, 'decoder', None)
    if not isinstance(decoder, CLIP4STRDecoder):
        raise DeployError(f'only CLIP4STR recognizers export to ONNX here; this model\'s decoder '
                          f'is {type(decoder).__name__}')
    os.makedirs(out_dir, exist_ok=True)
    model = model.eval()
    graphs = {}
    with torch.no_grad():
        for name, spec in graph_specs(model).items():
            graphs[name] = f'{name}.onnx'
            _export_graph(spec, osp.join(out_dir, graphs[name]), opset)
    with open(osp.join(out_dir, DICT_FILE), 'w', encoding='utf-8') as f:
        f.write('\n'.join(decoder.dictionary.dict[1:-2]) + '\n')
    manifest = dict(format=FORMAT, precision='fp32', graphs=graphs, dict_file=DICT_FILE,
                    decoding=decoding_record(decoder),
                    input=dict(size=list(image_size(model)), data_preprocessor=preprocessor),
                    opset=opset, exporter=f'torch.onnx (TorchScript) {torch.__version__}',
                    checkpoint=checkpoint_record(checkpoint))
    write_manifest(out_dir, manifest)
    return manifest
