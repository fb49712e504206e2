"""One PARSeq network as an MMOCR decoder (DPTR's pre-training and fine-tuning)."""
from typing import Dict, Optional, Tuple

import torch
from mmocr.registry import MODELS

from .loss import PLMBatch
from .network import first_pass
from .plm_decoder import PLMDecoder


@MODELS.register_module()
class PARSeqRecDecoder(PLMDecoder):
    """A PARSeq network reading ``out_enc`` (the encoder's output, e.g. FMU or ORP) or, without
    an encoder, the backbone's ``feat``. Trained with permutation language modelling; decodes
    autoregressively (or in one shot) and refines ``refine_iters`` times.

    Args:
        decoder: the network's geometry (DPTR: embed_dim 512, depth 6, 8 heads).
        others: as :class:`PLMDecoder` (a DPTR pre-trained network: ``DecoderTransferHook``).
    """

    def __init__(self, dictionary, decoder: Dict, module_loss: Optional[Dict] = None,
                 postprocessor: Optional[Dict] = None, max_seq_len: int = 25,
                 num_perms: int = 6, decode_ar: bool = True, refine_iters: int = 1,
                 init_cfg=None, **removed):
        super().__init__(dictionary, module_loss, postprocessor, max_seq_len, num_perms,
                         decode_ar, refine_iters, init_cfg, **removed)
        self.decoder = self.build_network(decoder)

    def training_logits(self, memory: torch.Tensor, batch: PLMBatch) -> Dict[str, torch.Tensor]:
        """``{'visual': (K, B, T+1, C)}``."""
        return dict(visual=self.teacher_force(self.decoder, memory, batch))

    def decode(self, memory: torch.Tensor) -> Tuple[torch.Tensor]:
        """``(logits (B, L, C), )``: the first pass, then ``refine_iters`` cloze rounds."""
        memory_kv = self.decoder.memory_kv(memory)       # projected once for every pass
        logits = first_pass(self.decoder, memory_kv, memory.shape[0],
                            autoregressive=self.decode_ar, device=memory.device)
        for _ in range(self.refine_iters):
            logits = self.decoder.refine(memory, logits, memory_kv=memory_kv)
        return (logits, )
