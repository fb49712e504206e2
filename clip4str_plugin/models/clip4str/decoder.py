"""CLIP4STR's dual predict-and-refine decoder as an MMOCR decoder.

The image tower is the recognizer's backbone; this module owns the CLIP text encoder and the two
PARSeq networks (``visual_decoder`` on image tokens, ``cross_decoder`` on [image; text] tokens).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmocr.registry import MODELS

from ...text.charsets import CHARSET_36
from ...text.rules import CharsetAdapter
from ...text.captions import check_caption_style, format_caption
from ..clip.caption_letters import check_caption_letters
from ..parseq.attention import SplitMemory
from ..parseq.loss import PLMBatch
from ..parseq.plm_decoder import PLMDecoder


@MODELS.register_module()
class CLIP4STRDecoder(PLMDecoder):
    """Visual and cross-modal PARSeq networks around a CLIP text encoder.

    Args:
        dictionary, module_loss, postprocessor, max_seq_len, num_perms, decode_ar,
            refine_iters: as :class:`PLMDecoder` (``DecoderTransferHook`` starts both networks
            from one pre-trained PARSeq network, e.g. DPTR text-only pre-training).
        text_encoder: :class:`CLIPTextEncoder` config.
        decoder: geometry of both networks (``embed_dim``, ``depth``, ``num_heads``,
            ``mlp_ratio``, ``dropout``).
        image_detach: the cross branch does not back-propagate into the image tower (True).
        text_charset: what the prediction is reduced to before CLIP reads it (the reference's
            ``charset_test``: lower-case alphanumeric).
        caption_style: how CLIP reads it (:mod:`clip4str_plugin.text.captions`): 'plain' (``hello``, the
            reference) or 'spelled' (``h e l l o``), as the CLIP text tower was trained.
    """

    extra_fields = ('visual_pred_text', )

    def __init__(self, dictionary, text_encoder: Dict, decoder: Dict,
                 module_loss: Optional[Dict] = None, postprocessor: Optional[Dict] = None,
                 max_seq_len: int = 25, num_perms: int = 6, decode_ar: bool = True,
                 refine_iters: int = 1, image_detach: bool = True, caption_style: str = 'plain',
                 text_charset: str = CHARSET_36, init_cfg=None, **removed):
        super().__init__(dictionary, module_loss, postprocessor, max_seq_len, num_perms,
                         decode_ar, refine_iters, init_cfg, **removed)
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_decoder = self.build_network(decoder)
        self.cross_decoder = self.build_network(decoder)
        self.image_detach = image_detach
        adapt = CharsetAdapter(text_charset)
        self.caption_style = check_caption_style(caption_style)
        # class id -> what that character contributes to the CLIP caption ('' for [E] etc.)
        self._caption_chars = [''] + [adapt(c) for c in self.dictionary.dict[1:-2]]
        check_caption_letters(self.dictionary.dict[1:-2], self._caption_chars[1:])

    # ---------------------------------------------------------------- cross-modal memory
    def captions(self, logits: torch.Tensor) -> Sequence[str]:
        """Greedy strings of ``logits (N, L, C)``, cut at [E], reduced to ``text_charset``, in
        ``caption_style``."""
        eos, table = self.dictionary.end_idx, self._caption_chars
        captions = []
        for ids in logits.argmax(-1).tolist():
            end = ids.index(eos) if eos in ids else len(ids)
            captions.append(format_caption(''.join(table[i] for i in ids[:end]),
                                           self.caption_style))
        return captions

    def encode_captions(self, logits: torch.Tensor) -> torch.Tensor:
        """CLIP text tokens ``(N, text_length, D)`` of the captions of ``logits (N, L, C)``.

        Identical captions (frequent across permutations and within a batch) are encoded once.
        """
        return self.encode_caption_ids(self.caption_ids(logits))

    def caption_ids(self, logits: torch.Tensor) -> torch.Tensor:
        """CLIP BPE ids ``(N, text_length)`` of the captions of ``logits (N, L, C)``."""
        return self.text_encoder.tokenize(self.captions(logits.detach()))

    def encode_caption_ids(self, ids: torch.Tensor, known: Optional[Tuple[torch.Tensor,
                                                                          torch.Tensor]] = None
                           ) -> torch.Tensor:
        """Text tower output ``(N, text_length, D)`` of ``ids (N, text_length)``, each distinct
        caption encoded once. ``known``: ``(ids, output)`` of the same N samples encoded before;
        only the rows whose ids changed are encoded again."""
        if known is not None:
            changed = (ids != known[0]).any(-1)
            if not bool(changed.any()):
                return known[1]
            text = known[1].clone()
            text[changed] = self.encode_caption_ids(ids[changed]).to(text.dtype)
            return text
        unique, inverse = torch.unique(ids, dim=0, return_inverse=True)
        return self.text_encoder(unique)[inverse]

    def cross_memory(self, image: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """``[image (N, S, D); CLIP text tokens (N, text_length, D)]`` for the cross decoder."""
        return torch.cat([image, self.encode_captions(logits).to(image.dtype)], dim=1)

    # ---------------------------------------------------------------- the two branches
    def teacher_forced(self, image: torch.Tensor, batch: PLMBatch) -> Dict[str, torch.Tensor]:
        """``{'visual', 'cross'}`` logits ``(K, B, T+1, C)``; the cross branch reads the caption
        of the visual branch's prediction under the same permutation."""
        visual = self.teacher_force(self.visual_decoder, image, batch)
        image = image.detach() if self.image_detach else image
        # one caption per permutation; the image tokens are shared, not copied K times
        text = self.encode_captions(visual.flatten(0, 1)).to(image.dtype)
        cross = self.teacher_force(self.cross_decoder, SplitMemory(image, text), batch)
        return dict(visual=visual, cross=cross)

    def decode(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Dual predict-and-refine: ``image (B, S, D)`` -> (cross, visual) logits ``(B, L, C)``.

        The visual branch reads the image; the cross branch reads the image and CLIP's encoding
        of the visual branch's text, for as many steps. Each refinement round refines the visual
        branch, re-captions it and refines the cross branch. The cross logits are the answer.

        Nothing whose result is known is computed twice: the image tokens' keys/values are
        projected once per branch (the cross memory's are the image part's followed by the
        caption part's), and at refinement only the captions that changed (usually none) go
        through the text tower again, the cross keys/values only when one did.
        """
        visual_net, cross_net = self.visual_decoder, self.cross_decoder
        visual_kv, image_kv = visual_net.memory_kv(image), cross_net.memory_kv(image)
        visual = self.first_pass(visual_net, image, memory_kv=visual_kv)
        ids = self.caption_ids(visual)
        text = self.encode_caption_ids(ids)
        cross_kv = self._cross_kv(image_kv, text.to(image.dtype))
        cross = self.first_pass(cross_net, image, visual.shape[1], memory_kv=cross_kv)
        for _ in range(self.refine_iters):
            visual = visual_net.refine(image, visual, memory_kv=visual_kv)
            new_ids = self.caption_ids(visual)
            if not torch.equal(new_ids, ids):
                text = self.encode_caption_ids(new_ids, known=(ids, text))
                cross_kv = self._cross_kv(image_kv, text.to(image.dtype))
                ids = new_ids
            cross = cross_net.refine(image, cross, memory_kv=cross_kv)
        return cross, visual

    def _cross_kv(self, image_kv, text: torch.Tensor):
        """The cross network's keys/values of ``[image; text (B, text_length, D)]``, per layer,
        from the image part's (``image_kv``, already projected)."""
        text_kv = [layer.cross_attn.project_kv(text) for layer in self.cross_decoder.layers]
        return [(torch.cat([ik, tk], 2), torch.cat([iv, tv], 2))
                for (ik, iv), (tk, tv) in zip(image_kv, text_kv)]
