"""Deployment: CLIP4STR exported to ONNX graphs and run on ONNX Runtime or OpenVINO.

``tools/export_onnx.py`` writes a deployment folder (graphs, ``manifest.json``, ``dict.txt``);
:class:`CLIP4STRRunner` decodes with it exactly as the PyTorch model does;
:class:`DeployedTextRecognizer` is that runner as an MMOCR model (``tools/test.py --backend``).
The runtimes are optional extras, imported only when a graph is opened.
"""
from .errors import DeployError
from .export import export_recognizer
from .manifest import read_manifest
from .recognizer import DeployedTextRecognizer
from .runner import CLIP4STRRunner

__all__ = ['DeployError', 'export_recognizer', 'read_manifest', 'CLIP4STRRunner',
           'DeployedTextRecognizer']
