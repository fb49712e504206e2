"""An exported CLIP4STR as an MMOCR model, so that MMOCR's test loop, evaluators and inferencers
run it: ``model = dict(type='DeployedTextRecognizer', model_dir=..., backend=...)``.

``test_step`` preprocesses with the MMOCR data preprocessor (the config's, or the one recorded
in the manifest) and fills ``pred_text`` / ``visual_pred_text`` through
:class:`.runner.CLIP4STRRunner`. It has no parameters and does not train.
"""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmocr.registry import MODELS

from .errors import DeployError
from .runner import CLIP4STRRunner


@MODELS.register_module()
class DeployedTextRecognizer(BaseModel):
    """Args:
        model_dir: a folder written by ``tools/export_onnx.py`` (fp32 or its ``int8``).
        backend: 'onnxruntime' or 'openvino'.
        threads: the runtime's CPU threads (None: its default).
        data_preprocessor: MMOCR ``TextRecogDataPreprocessor`` config; None takes the
            manifest's.
    """

    def __init__(self, model_dir: str, backend: str = 'onnxruntime',
                 threads: Optional[int] = None, data_preprocessor: Optional[Dict] = None,
                 init_cfg=None):
        runner = CLIP4STRRunner(model_dir, backend, threads)
        if data_preprocessor is None:
            data_preprocessor = runner.manifest['input']['data_preprocessor']
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.runner = runner

    def forward(self, inputs: torch.Tensor, data_samples: Optional[Sequence] = None,
                mode: str = 'predict'):
        """``inputs (B, 3, H, W)`` preprocessed; only ``mode='predict'``."""
        if mode != 'predict':
            raise DeployError(f'an exported model only predicts (mode {mode!r} asked): train '
                              'and compute losses with the PyTorch model')
        expected = self.runner.input_size
        if tuple(inputs.shape[-2:]) != expected:
            raise DeployError(f'the exported image tower reads {expected[0]}x{expected[1]} '
                              f'images, the pipeline gives {inputs.shape[-2]}x{inputs.shape[-1]}'
                              ': use the config the model was exported with')
        return self.runner.predict(inputs.float().cpu().numpy(), data_samples)


def deployed_model_cfg(model_cfg: Dict, model_dir: str, backend: str,
                       threads: Optional[int] = None) -> Dict:
    """A config's ``model`` replaced by the export in ``model_dir`` on ``backend``, keeping the
    config's data preprocessor (so ``--reference-norm`` and the like still apply)."""
    return dict(type='DeployedTextRecognizer', model_dir=model_dir, backend=backend,
                threads=threads, data_preprocessor=model_cfg.get('data_preprocessor'))
