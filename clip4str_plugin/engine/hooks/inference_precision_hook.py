"""InferencePrecisionHook: the model's weights cast once to the inference precision for testing."""
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmocr.registry import HOOKS
from torch import nn

from ...compute.cpu import describe_cpu
from ...compute.precision import bf16_reason, resolve_precision, set_inference_precision


@HOOKS.register_module()
class InferencePrecisionHook(Hook):
    """Casts the model's weights once (:func:`set_inference_precision`) before testing, after
    the checkpoint is loaded: ``custom_hooks=[dict(type='InferencePrecisionHook',
    precision='auto')]`` or ``tools/test.py --precision``. After the test the dtypes are fp32
    again (the values keep their rounding)."""

    priority = 'VERY_LOW'

    def __init__(self, precision: str = 'auto'):
        resolve_precision(precision)   # a wrong name is refused when the config is built
        self.precision = precision

    @staticmethod
    def _model(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_test(self, runner) -> None:
        model = self._model(runner)
        chosen = set_inference_precision(model, self.precision)
        why = (f'auto: {bf16_reason(str(next(model.parameters()).device))}'
               if self.precision == 'auto' else f'asked: {self.precision}')
        MMLogger.get_current_instance().info(
            f'inference precision {chosen} ({why}; CPU: {describe_cpu()})')

    def after_test(self, runner) -> None:
        set_inference_precision(self._model(runner), 'fp32')
