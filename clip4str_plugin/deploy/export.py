"""Export a CLIP4STR recognizer to ONNX graphs (:mod:`.graphs`) plus a manifest.

torch's TorchScript-based exporter is used (``dynamo=False``): with the AR step given as an
input it traces every graph exactly, with dynamic batch and sequence axes, in about a second per
graph (the ``torch.export`` exporter takes ten times longer per graph for the same ONNX).
"""
import os
import os.path as osp
import warnings
from typing import Dict, Iterable, Optional

import torch
from torch import nn

from ..fileio import staged_folder
from ..models.clip4str.decoder import CLIP4STRDecoder
from .errors import DeployError
from .graphs import graph_specs, image_size
from .manifest import FORMAT, MANIFEST, checkpoint_record, write_manifest

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
                caption_chars=list(decoder._caption_chars), caption_style=decoder.caption_style,
                answer=decoder.answer)


def check_out_dir(out_dir: str, overwrite: bool, inputs: Iterable[Optional[str]] = ()) -> None:
    """:class:`DeployError` unless ``out_dir`` is new, empty, or (with ``overwrite``) an export
    that holds none of ``inputs``: an export replaces the folder whole."""
    if osp.lexists(out_dir) and not osp.isdir(out_dir):
        raise DeployError(f'{out_dir} is a file, not a folder; give a new or empty folder')
    if not osp.isdir(out_dir):
        return
    if not osp.isfile(osp.join(out_dir, MANIFEST)):
        if os.listdir(out_dir):
            raise DeployError(f'{out_dir} holds files that are not an export (no {MANIFEST}); '
                              'give a new or empty folder')
        return
    if not overwrite:
        raise DeployError(f'{out_dir} already holds an export; give another folder or '
                          '--overwrite')
    inside = osp.join(osp.realpath(out_dir), '')
    for source in inputs:
        if source and osp.realpath(source).startswith(inside):
            raise DeployError(f'{source} lies inside {out_dir}, which --overwrite replaces '
                              'whole; move it out first')


def export_recognizer(model: nn.Module, out_dir: str, preprocessor: Dict,
                      checkpoint: Optional[str] = None, opset: int = DEFAULT_OPSET,
                      int8: bool = False, overwrite: bool = False) -> Dict:
    """Write ``model``'s graphs, ``dict.txt`` and ``manifest.json`` (and with ``int8`` their
    dynamically quantised copies in ``int8/``) as the folder ``out_dir``.

    ``preprocessor``: the config's ``data_preprocessor`` (normalisation, channel order), kept in
    the manifest; ``checkpoint``: the weights' file, whose SHA-256 the manifest records.
    The export is written into a hidden folder beside ``out_dir`` and renamed into place when
    complete (:func:`~clip4str_plugin.fileio.staged_folder`), so ``out_dir`` holds all of one
    export. An existing export is replaced only with ``overwrite``; a folder holding anything
    else is refused (:func:`check_out_dir`). Returns the manifest.
    """
    decoder = getattr(model, 'decoder', None)
    if not isinstance(decoder, CLIP4STRDecoder):
        raise DeployError(f'only CLIP4STR recognizers export to ONNX here; this model\'s decoder '
                          f'is {type(decoder).__name__}')
    check_out_dir(out_dir, overwrite, [checkpoint])
    model = model.eval()
    with torch.no_grad():
        specs = graph_specs(model)
    graphs = {name: f'{name}.onnx' for name in specs}
    manifest = dict(format=FORMAT, precision='fp32', graphs=graphs, dict_file=DICT_FILE,
                    decoding=decoding_record(decoder),
                    input=dict(size=list(image_size(model)), data_preprocessor=preprocessor),
                    opset=opset, exporter=f'torch.onnx (TorchScript) {torch.__version__}',
                    checkpoint=checkpoint_record(checkpoint))
    with staged_folder(out_dir) as staging, torch.no_grad():
        for name, spec in specs.items():
            _export_graph(spec, osp.join(staging, graphs[name]), opset)
        with open(osp.join(staging, DICT_FILE), 'w', encoding='utf-8') as f:
            f.write('\n'.join(decoder.dictionary.dict[1:-2]) + '\n')
        write_manifest(staging, manifest)
        if int8:
            from .quantize import quantize_folder   # imports onnxruntime
            quantize_folder(staging, osp.join(staging, 'int8'))
    return manifest
