"""Data preprocessor for text-only batches (token ids instead of images)."""
import torch
from mmengine.model import BaseDataPreprocessor
from mmocr.registry import MODELS


@MODELS.register_module()
class TokenIdsDataPreprocessor(BaseDataPreprocessor):
    """Stack per-sample token ids into ``(B, L)`` on the model's device."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, torch.Tensor):
            inputs = torch.stack(list(inputs))
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
