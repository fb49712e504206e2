"""DPTR's Feature Merge Unit: learned queries gather the image tokens into a text-like memory."""
import torch
from mmengine.model import BaseModule, trunc_normal_init
from mmocr.registry import MODELS
from torch import nn


@MODELS.register_module()
class FeatureMergeUnit(BaseModule):
    """``(B, S, D)`` image tokens -> ``(B, num_queries, D)`` for the decoder's cross-attention.

    One cross-attention (queries, not normalised, attend to the tokens; residual with dropout)
    and a pre-LN GELU feed-forward with a residual; no final norm. Initialised as the reference
    (``DptrParseq._init_weights`` over every layer): Linear weights trunc-normal(.02) and zero
    biases (the attention's ``out_proj`` and both feed-forward layers), the attention's input
    projection left at PyTorch's Xavier init, LayerNorm ones / zeros. The queries are
    trunc-normal(.02); the reference leaves them uninitialised (a documented deviation). Used as
    the recognizer's ``encoder``, so MMOCR passes its output to the decoder.
    """

    def __init__(self, embed_dim: int = 512, num_queries: int = 26, num_heads: int = 8,
                 mlp_ratio: float = 4.0, dropout: float = 0.1, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.queries = nn.Parameter(torch.empty(1, num_queries, embed_dim))
        nn.init.trunc_normal_(self.queries, std=.02)
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout,
                                          batch_first=True)
        self.norm = nn.LayerNorm(embed_dim)
        hidden = int(embed_dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(embed_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, embed_dim), nn.Dropout(dropout))
        self.dropout = nn.Dropout(dropout)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_init(module, std=.02, bias=0)

    def forward(self, feat: torch.Tensor, data_samples=None) -> torch.Tensor:
        queries = self.queries.expand(feat.shape[0], -1, -1)
        x = queries + self.dropout(self.attn(queries, feat, feat, need_weights=False)[0])
        return x + self.mlp(self.norm(x))
