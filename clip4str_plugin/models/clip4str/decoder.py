"""CLIP4STR's dual predict-and-refine decoder as an MMOCR decoder.

The image tower is the recognizer's backbone; this module owns the CLIP text encoder and the two
PARSeq networks (``visual_decoder`` on image tokens, ``cross_decoder`` on [image; text] tokens).
:func:`dual_decode` is the test-time decoding, written once against the steps that this decoder
and its exported graphs (:class:`clip4str_plugin.deploy.runner.GraphSteps`) both provide.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmocr.registry import MODELS

from ...errors import DataError
from ...text.charsets import CHARSET_36
from ...text.rules import CharsetAdapter
from ..clip.towers import check_caption_style, format_caption
from ..parseq.attention import KV, SplitMemory
from ..parseq.loss import PLMBatch
from ..parseq.network import cloze_refine, first_pass
from ..parseq.plm_decoder import PLMDecoder


#: What :func:`dual_decode` answers: the cross branch (the reference), the visual branch, or
#: per sample the branch whose greedy reading is the more probable one.
ANSWERS = ('cross', 'visual', 'confident')


def dual_decode(steps, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Dual predict-and-refine: image tokens ``image (B, S, D)`` -> (answer, visual) logits
    ``(B, L, C)``; the answer is the cross branch's unless ``steps.answer`` says otherwise.

    ``steps``: a :class:`CLIP4STRDecoder` or the exported graphs. Both give ``visual_decoder``
    and ``cross_decoder`` (``step`` / ``read_all`` of :class:`PARSeqNetwork`), ``decode_ar``,
    ``refine_iters``, ``answer``, ``image_kv``, ``caption_ids``, ``encode_text``, ``cross_kv``.
    """
    visual_net, cross_net = steps.visual_decoder, steps.cross_decoder
    batch, device, ar = image.shape[0], image.device, steps.decode_ar
    # Every step of both branches reads the image: its keys/values are projected once per
    # branch (the cross memory's image part now, its caption part once the caption is known).
    visual_kv, image_kv = steps.image_kv(image)
    # AR stops once every sample has emitted [E]; one-shot asks every query at once
    visual = first_pass(visual_net, visual_kv, batch, visual_net.max_length, ar, device)
    # CLIP's text tower reads the visual branch's guess; the cross branch reads [image; text]
    # for as many steps as the visual branch took (the reference's cross loop).
    ids = steps.caption_ids(visual)
    text = encode_distinct(steps, ids)
    cross_kv = steps.cross_kv(image, image_kv, text)
    cross = first_pass(cross_net, cross_kv, batch, visual.shape[1], ar, device)
    for _ in range(steps.refine_iters):
        # Refine the visual guess, caption it again, refine the cross branch on the new text.
        visual = cloze_refine(visual_net, visual_kv, visual)
        new_ids = steps.caption_ids(visual)
        changed = (new_ids != ids).any(-1)
        if changed.any():
            # Usually no caption changes; only the ones that did go through the text tower.
            text = text.clone()
            text[changed] = encode_distinct(steps, new_ids[changed]).to(text.dtype)
            cross_kv, ids = steps.cross_kv(image, image_kv, text), new_ids
        cross = cloze_refine(cross_net, cross_kv, cross)
    return pick_answer(cross, visual, steps.answer, visual_net.eos_id), visual


def pick_answer(cross: torch.Tensor, visual: torch.Tensor, answer: str,
                eos_id: int) -> torch.Tensor:
    """The answer logits ``(B, L, C)`` of the branches' ``cross`` and ``visual`` logits: one of
    them, or (``'confident'``) per sample the one whose greedy reading, up to its first [E], has
    the higher log-probability (the branches err on different samples)."""
    if answer != 'confident':
        return cross if answer == 'cross' else visual
    length = max(cross.shape[1], visual.shape[1])
    cross, visual = (_pad_ended(x, length, eos_id) for x in (cross, visual))
    scores = []
    for logits in (cross, visual):
        logp, ids = logits.float().log_softmax(-1).max(-1)
        after_end = ((ids == eos_id).cumsum(-1) - (ids == eos_id).long()) > 0
        scores.append(logp.masked_fill(after_end, 0.0).sum(-1))
    return torch.where((scores[0] >= scores[1])[:, None, None], cross, visual)


def _pad_ended(logits: torch.Tensor, length: int, eos_id: int) -> torch.Tensor:
    """``logits (B, L, C)`` to ``length`` steps, the added ones reading [E] (an AR pass that
    stopped early had every sample ended: no reader looks past its first [E])."""
    missing = length - logits.shape[1]
    if missing <= 0:
        return logits
    pad = logits.new_full((logits.shape[0], missing, logits.shape[2]), -1e4)
    pad[..., eos_id] = 0.0
    return torch.cat([logits, pad], dim=1)


def encode_distinct(steps, ids: torch.Tensor) -> torch.Tensor:
    """Text tower output ``(N, text_length, D)`` of ``ids (N, text_length)``, each distinct
    caption (frequent within a batch) encoded once."""
    unique, inverse = torch.unique(ids, dim=0, return_inverse=True)
    return steps.encode_text(unique)[inverse]


def decoded_captions(logits, table: Sequence[str], end_id: int, style: str) -> List[str]:
    """The captions of greedy decoding: ``logits (N, L, C)`` -> N captions, each the argmax
    class ids cut at the first ``end_id``, mapped through ``table`` (class id -> caption text,
    '' for characters CLIP is not shown), in ``style``."""
    captions = []
    for ids in logits.argmax(-1).tolist():
        end = ids.index(end_id) if end_id in ids else len(ids)
        captions.append(format_caption(''.join(table[i] for i in ids[:end]), style))
    return captions


def check_caption_letters(chars: Sequence[str], caption_chars: Sequence[str]) -> None:
    """Refuse a caption mapping (dictionary character -> caption text) that keeps none of the
    dictionary's letters, e.g. a Greek dictionary with the reference's 36-character
    ``text_charset``: the cross branch would read empty captions (docs/charsets.md)."""
    letters = [c for c, kept in zip(chars, caption_chars) if c.isalpha()]
    if letters and not any(kept for c, kept in zip(chars, caption_chars) if c.isalpha()):
        raise DataError(f"text_charset keeps none of the dictionary's {len(letters)} letters "
                        f"({''.join(letters[:10])}...): the cross branch would read empty "
                        'captions; set text_charset to the letters CLIP should read (as '
                        'configs/clip4str/clip4str-tiny_3k_synth-greek.py does)')


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
        caption_style: how CLIP reads it (:mod:`clip4str_plugin.models.clip.towers`): 'plain'
            (``hello``, the reference) or 'spelled' (``h e l l o``), as the text tower was
            trained.
        answer: 'cross' (the reference), 'visual', or 'confident': per sample the branch whose
            reading is the more probable (:func:`pick_answer`; docs/benchmarks.md, "Which
            branch answers").
    """

    extra_fields = ('visual_pred_text', )

    def __init__(self, dictionary, text_encoder: Dict, decoder: Dict,
                 module_loss: Optional[Dict] = None, postprocessor: Optional[Dict] = None,
                 max_seq_len: int = 25, num_perms: int = 6, decode_ar: bool = True,
                 refine_iters: int = 1, image_detach: bool = True, caption_style: str = 'plain',
                 text_charset: str = CHARSET_36, answer: str = 'cross', init_cfg=None,
                 **removed):
        super().__init__(dictionary, module_loss, postprocessor, max_seq_len, num_perms,
                         decode_ar, refine_iters, init_cfg, **removed)
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_decoder = self.build_network(decoder)
        self.cross_decoder = self.build_network(decoder)
        self.image_detach = image_detach
        if answer not in ANSWERS:
            raise ValueError(f'answer must be one of {", ".join(ANSWERS)}, not {answer!r}')
        self.answer = answer
        adapt = CharsetAdapter(text_charset)
        self.caption_style = check_caption_style(caption_style)
        # class id -> what that character contributes to the CLIP caption ('' for [E] etc.)
        self._caption_chars = [''] + [adapt(c) for c in self.dictionary.dict[1:-2]]
        check_caption_letters(self.dictionary.dict[1:-2], self._caption_chars[1:])

    def training_logits(self, image: torch.Tensor, batch: PLMBatch) -> Dict[str, torch.Tensor]:
        """``{'visual', 'cross'}`` logits ``(K, B, T+1, C)``; the cross branch reads the caption
        of the visual branch's prediction under the same permutation."""
        visual = self.teacher_force(self.visual_decoder, image, batch)
        image = image.detach() if self.image_detach else image
        # one caption per permutation; the image tokens are shared, not copied K times
        text = self.encode_captions(visual.flatten(0, 1)).to(image.dtype)
        cross = self.teacher_force(self.cross_decoder, SplitMemory(image, text), batch)
        return dict(visual=visual, cross=cross)

    def decode(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(answer, visual) logits ``(B, L, C)`` of ``image (B, S, D)``: :func:`dual_decode`."""
        return dual_decode(self, image)

    # ---------------------------------------------------------------- captions
    def captions(self, logits: torch.Tensor) -> List[str]:
        """Greedy strings of ``logits (N, L, C)``, cut at [E], reduced to ``text_charset``, in
        ``caption_style``."""
        return decoded_captions(logits, self._caption_chars, self.dictionary.end_idx,
                                self.caption_style)

    def caption_ids(self, logits: torch.Tensor) -> torch.Tensor:
        """CLIP BPE ids ``(N, text_length)`` of the captions of ``logits (N, L, C)``."""
        return self.text_encoder.tokenize(self.captions(logits.detach()))

    def encode_captions(self, logits: torch.Tensor) -> torch.Tensor:
        """CLIP text tokens ``(N, text_length, D)`` of the captions of ``logits (N, L, C)``."""
        return encode_distinct(self, self.caption_ids(logits))

    def cross_memory(self, image: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """``[image (N, S, D); CLIP text tokens (N, text_length, D)]`` for the cross decoder."""
        return torch.cat([image, self.encode_captions(logits).to(image.dtype)], dim=1)

    # ---------------------------------------------------------------- the other decode steps
    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """The text tower: ``ids (N, text_length)`` -> ``(N, text_length, D)``."""
        return self.text_encoder(ids)

    def image_kv(self, image: torch.Tensor) -> Tuple[List[KV], List[KV]]:
        """Keys/values of ``image (B, S, D)`` for the visual network's memory and for the image
        part of the cross network's."""
        return self.visual_decoder.memory_kv(image), self.cross_decoder.memory_kv(image)

    def cross_kv(self, image: torch.Tensor, image_kv: List[KV],
                 text: torch.Tensor) -> List[KV]:
        """The cross network's keys/values of ``[image; text (B, text_length, D)]``, per layer,
        from the image part's (``image_kv``, already projected; ``image`` is not read again)."""
        text = text.to(image.dtype)
        text_kv = [layer.cross_attn.project_kv(text) for layer in self.cross_decoder.layers]
        return [(torch.cat([ik, tk], 2), torch.cat([iv, tv], 2))
                for (ik, iv), (tk, tv) in zip(image_kv, text_kv)]
