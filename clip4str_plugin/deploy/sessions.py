"""One ONNX graph on a runtime: ONNX Runtime (``InferenceSession``) or OpenVINO
(``Core().compile_model`` on the ONNX file), called with named numpy arrays.

Both runtimes are optional extras; a missing one is a :class:`DeployError` of one line that says
what to install. Feeds a graph does not declare (an input the exporter found unused, such as
the content mask of a one-layer network) are left out.
"""
import importlib
from typing import Dict, Optional

import numpy as np

from .errors import DeployError

BACKENDS = ('onnxruntime', 'openvino')


def import_runtime(backend: str):
    """The runtime's Python package, or :class:`DeployError` naming the extra to install."""
    if backend not in BACKENDS:
        raise DeployError(f'unknown backend {backend!r}: choose one of {", ".join(BACKENDS)}')
    try:
        return importlib.import_module(backend)
    except ImportError:
        raise DeployError(f'{backend} is not installed: pip install clip4str_plugin[{backend}]'
                          ) from None


class ORTGraph:
    """A graph on ONNX Runtime's CPU provider (``threads``: intra-op threads, None = its
    default)."""

    def __init__(self, path: str, threads: Optional[int] = None):
        ort = import_runtime('onnxruntime')
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self.inputs = {node.name for node in self.session.get_inputs()}
        self.outputs = [node.name for node in self.session.get_outputs()]

    def __call__(self, **feeds: np.ndarray) -> Dict[str, np.ndarray]:
        results = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})
        return dict(zip(self.outputs, results))


def _onnx_name(port) -> str:
    """The graph's own name of an OpenVINO port (which also carries the exporter's internal
    names, ``/module/Op_output_0``)."""
    return sorted(port.get_names(), key=lambda name: (name.startswith('/'), name))[0]


class OpenVINOGraph:
    """A graph compiled by OpenVINO for the CPU in fp32 (its CPU plugin would otherwise infer in
    bf16 where the processor has it, which changes the numbers)."""

    def __init__(self, path: str, threads: Optional[int] = None):
        ov = import_runtime('openvino')
        config = {'INFERENCE_PRECISION_HINT': 'f32'}
        if threads:
            config['INFERENCE_NUM_THREADS'] = threads
        self.compiled = ov.Core().compile_model(path, 'CPU', config)
        self.request = self.compiled.create_infer_request()
        self.inputs = {_onnx_name(port) for port in self.compiled.inputs}
        self.outputs = [_onnx_name(port) for port in self.compiled.outputs]

    def __call__(self, **feeds: np.ndarray) -> Dict[str, np.ndarray]:
        results = self.request.infer({k: v for k, v in feeds.items() if k in self.inputs})
        return {name: np.array(results[port])
                for name, port in zip(self.outputs, self.compiled.outputs)}


def open_graph(backend: str, path: str, threads: Optional[int] = None):
    """``path`` (an ONNX file) ready to run on ``backend``."""
    import_runtime(backend)
    return (ORTGraph if backend == 'onnxruntime' else OpenVINOGraph)(path, threads)
