"""tools/convert_openocr_dptr.py: an OpenOCR DPTR checkpoint becomes a plugin checkpoint whose
pre-training decoder gives OpenOCR's logits and which DecoderTransferHook takes whole.

Fixtures (tests/fixtures/openocr_dptr/), recorded outside this repo from OpenOCR's code:
``openocr_dptr_tiny.pth`` is OpenOCR's ``DptrParseq`` (pre-training: 97 classes, width 32,
4 heads, 1 layer, torch.manual_seed(0); its CLIP replaced by a stub whose one tensor stands for
the CLIP weights) under a recognizer's ``decoder.``, saved in ``tools/utils/ckpt.py``'s layout;
``openocr_dptr_logits.npz`` holds a memory (2, 78, 32) and OpenOCR's ``forward_test`` logits
for it (AR decoding, one refinement; run on the CPU with ``memory.get_device()`` read as
``memory.device``, the logits taken before its final softmax)."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import DICT_94, ROOT

FIXTURES = ROOT / 'tests' / 'fixtures' / 'openocr_dptr'
SRC = FIXTURES / 'openocr_dptr_tiny.pth'
TOOL = ROOT / 'tools' / 'convert_openocr_dptr.py'


def convert(*args) -> str:
    """Run the tool in this process: what it prints, or raises SystemExit with its message."""
    spec = importlib.util.spec_from_file_location('convert_openocr_dptr', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    argv, sys.argv = sys.argv, [str(TOOL), *map(str, args)]
    try:
        tool.main()
    finally:
        sys.argv = argv


def pretrain_decoder():
    from clip4str_plugin.models.parseq.rec_decoder import PARSeqRecDecoder
    return PARSeqRecDecoder(dict(type='PARSeqDictionary', dict_file=DICT_94),
                            decoder=dict(embed_dim=32, depth=1, num_heads=4, mlp_ratio=4.0,
                                         dropout=0.1), max_seq_len=25, refine_iters=1).eval()


@pytest.fixture
def converted(tmp_path, capsys):
    dst = tmp_path / 'dptr.pth'
    convert(SRC, dst)
    assert capsys.readouterr().out.startswith(f'{dst}: 26 tensors')
    return dst


def test_converted_decoder_gives_openocrs_logits(converted):
    from clip4str_plugin.models.parseq.transfer import transfer_decoder
    decoder = pretrain_decoder()
    rows, _ = transfer_decoder({'decoder.decoder': decoder.decoder}, str(converted),
                               'decoder.decoder.', decoder.dictionary.dict)
    assert {status for *_, status in rows} == {'loaded'} and len(rows) == 26
    recorded = np.load(FIXTURES / 'openocr_dptr_logits.npz')
    with torch.no_grad():
        logits = decoder.decode(torch.from_numpy(recorded['memory']))[0]
    assert logits.shape == recorded['logits'].shape == (2, 26, 95)
    np.testing.assert_allclose(logits.numpy(), recorded['logits'], rtol=0, atol=1e-4)


def test_clip4str_decoders_take_it_whole(converted):
    from clip4str_plugin.models.parseq.transfer import transfer_decoder
    networks = {f'decoder.{name}': pretrain_decoder().decoder
                for name in ('visual_decoder', 'cross_decoder')}
    rows, _ = transfer_decoder(networks, str(converted), 'decoder.decoder.',
                               pretrain_decoder().dictionary.dict)
    assert len(rows) == 52 and {status for *_, status in rows} == {'loaded'}


def test_the_raw_openocr_file_is_refused_by_name():
    """Without conversion the prefix 'decoder.decoder.' finds the layers only: refused."""
    from clip4str_plugin.models.parseq.transfer import (PretrainedDecoderError,
                                                          transfer_decoder)
    decoder = pretrain_decoder()
    with pytest.raises(PretrainedDecoderError, match=(
            r"covers 22 of 26 tensors of decoder.decoder; 4 would keep their initialisation: "
            r"decoder.decoder.head.bias \(not in file\), decoder.decoder.head.weight \(not in "
            r"file\), decoder.decoder.pos_queries \(not in file\), "
            r"decoder.decoder.text_embed.embedding.weight \(not in file\); give the whole")):
        transfer_decoder({'decoder.decoder': decoder.decoder}, str(SRC), 'decoder.decoder.',
                         decoder.dictionary.dict)


def test_bad_sources_and_outputs_are_one_line_errors(tmp_path, converted):
    with pytest.raises(SystemExit) as info:                      # already the plugin's layout
        convert(converted, tmp_path / 'again.pth')
    message = str(info.value.code)
    assert message.startswith(f'error: {converted} is not an OpenOCR DPTR checkpoint')
    assert '\n' not in message and not Path(tmp_path / 'again.pth').exists()
    with pytest.raises(SystemExit) as info:                      # exists, no --overwrite
        convert(SRC, converted)
    assert str(info.value.code).startswith('error: ')
