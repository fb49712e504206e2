"""A plain ViT image encoder (timm's), returning every patch token."""
from mmengine.model import BaseModule
from mmocr.registry import MODELS
from timm.models.vision_transformer import VisionTransformer

from ..load_checks import check_fit_on_load


@MODELS.register_module()
class ViTBackbone(BaseModule):
    """timm ViT without class token or head: ``(B, 3, H, W) -> (B, H/ph * W/pw, embed_dim)``,
    after the final LayerNorm. DPTR's fine-tuning encoder: 32x128 input, 4x8 patches, width 512,
    depth 12, 8 heads, trained from scratch (learned positions, trunc-normal .02).
    """

    def __init__(self, img_size=(32, 128), patch_size=(4, 8), embed_dim: int = 512,
                 depth: int = 12, num_heads: int = 8, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop_path_rate: float = 0.0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_fit_on_load(self)
        self.vit = VisionTransformer(
            img_size=tuple(img_size), patch_size=tuple(patch_size), embed_dim=embed_dim,
            depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
            class_token=False, global_pool='', num_classes=0, drop_path_rate=drop_path_rate)

    def forward(self, images):
        return self.vit.forward_features(images)
