"""tools/demo.py: the page in a real headless browser (Debian's Chromium through Selenium) reads
an uploaded sample as the same model's Python API does and shows its attention picture; the
page's action in both modes (spotting with a detector whose text map covers the whole image);
the refusals. Without Chromium the browser test is skipped, except under CI (CI=true)."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest
import torch

from conftest import ROOT
from test_infer import load_tool
from test_visualize_attention import model_files  # noqa: F401  (the tiny 5-character model)

SAMPLE = ROOT / 'assets' / 'samples' / 'word4_SNOWBIRD.png'
DBNET = ROOT / 'projects' / 'clip4str_spotting' / 'configs' / 'dbnet_resnet18_fpnc_synth-scenes.py'
BROWSER = shutil.which('chromium'), shutil.which('chromedriver')
#: seconds the demo may take to start serving (a loaded 2-core machine: a minute or more)
START_S = 300


@pytest.fixture(scope='module')
def tool():
    return load_tool('demo')


def api_reading(config, weights, image):
    """What MMOCR's TextRecInferencer reads in ``image`` (BGR)."""
    from mmocr.apis import TextRecInferencer
    return TextRecInferencer(model=config, weights=weights, device='cpu')(
        image, progress_bar=False)['predictions'][0]['text']


def test_recognizer_alone_rows_and_picture(tool, model_files):  # noqa: F811
    image = cv2.imread(str(SAMPLE))
    boxes, rows, picture = tool.read_words(image[..., ::-1], tool.ALONE, model_files[1],
                                           model_files[0], '', '', device='cpu')
    expected = api_reading(*model_files, image)
    assert boxes is None and len(rows) == 1 and expected
    assert rows[0][:2] == [0, expected] and rows[0][3]               # the visual branch's text
    assert rows[0][5].startswith(f'{expected[0]}:0.')
    assert picture.dtype == np.uint8 and picture.shape[1] > picture.shape[0] > 128


def test_the_words_grids_are_stacked_on_white(tool):
    first, second = np.zeros((10, 30, 3), np.uint8), np.full((5, 20, 3), 7, np.uint8)
    stacked = tool.stack_pictures([first, None, second], gap=2)
    assert stacked.shape == (17, 30, 3) and (stacked[:10] == 0).all()
    assert (stacked[10:12] == 255).all() and (stacked[12:, 20:] == 255).all()
    assert (stacked[12:, :20] == 7).all() and tool.stack_pictures([None]) is None


def test_spotting_draws_the_box_and_reads_its_crop(tool, model_files, tmp_path):  # noqa: F811
    from mmocr.apis import TextDetInferencer
    from projects.clip4str_spotting.clip4str_spotting import crop_text, draw
    state = TextDetInferencer(model=str(DBNET), device='cpu').model.state_dict()
    state['det_head.binarize.6.weight'].zero_()       # a text map over the whole image
    state['det_head.binarize.6.bias'].fill_(10.0)
    det_weights = tmp_path / 'whole_image.pth'
    torch.save(dict(state_dict=state, meta={}), str(det_weights))
    image = cv2.imread(str(ROOT / 'assets' / 'samples' / 'scene0.png'))
    boxes, rows, picture = tool.read_words(image[..., ::-1].copy(), tool.SPOTTING,
                                           model_files[1], model_files[0], str(DBNET),
                                           str(det_weights), device='cpu')
    spotter, _ = tool.load_spotter(model_files[1], model_files[0], str(DBNET),
                                   str(det_weights), 'cpu')
    spotted = spotter(image)
    assert np.array_equal(boxes, draw(image, spotted)[..., ::-1])     # RGB for the page
    crop = crop_text(image, spotted['polygons'][0], rectify=True, pad=0.2)
    assert len(rows) == 1 and picture.shape[1] > picture.shape[0] > 128
    assert rows[0][1] == spotted['texts'][0] == api_reading(*model_files, crop)


@pytest.mark.parametrize('image, mode, checkpoint, det, message', [
    (None, 'recognizer alone', 'w.pth', '', 'upload an image or pick a sample first'),
    ('image', 'recognizer alone', '', '',
     'give a recognizer checkpoint (--checkpoint or the page)'),
    ('image', 'spotting', 'w.pth', '', 'spotting needs a detector: give its config (--det or '
     'the page) and weights, or read the image as one word (recognizer alone)')])
def test_the_page_refuses_in_one_line(tool, image, mode, checkpoint, det, message):
    image = np.zeros((32, 100, 3), np.uint8) if image else None
    with pytest.raises(ValueError, match=f'^{message}$'.replace('(', r'\(').replace(')', r'\)')):
        tool.read_words(image, mode, checkpoint, 'c.py', det, '')


def test_without_gradio_the_tool_names_the_extra(tool, monkeypatch):
    monkeypatch.setitem(sys.modules, 'gradio', None)
    with pytest.raises(SystemExit, match=r"^error: the demo needs gradio, the `demo` extra: "
                                         r"pip install -e '\.\[demo\]' \(tools/install.sh "):
        tool.main([])


def test_a_missing_checkpoint_fails_at_start(tool, model_files, tmp_path):  # noqa: F811
    missing = str(tmp_path / 'missing.pth')
    with pytest.raises(SystemExit, match='^error: .*missing.pth'):
        tool.main(['--checkpoint', missing, '--config', model_files[0], '--device', 'cpu'])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_until_served(url: str, process, log) -> None:
    """Returns once ``url`` answers; fails with the demo's output if it exits or times out."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            time.sleep(1)
    pytest.fail(f'the demo did not serve {url}:\n' + log.read_text()[-3000:])


@pytest.fixture
def browser():
    if not all(BROWSER):
        if os.environ.get('CI') == 'true':
            pytest.fail('the browser test needs chromium and chromium-driver (.ci/run installs '
                        'them)')
        pytest.skip('chromium / chromium-driver not installed')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER[0]
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                 '--window-size=1400,1200'):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(BROWSER[1]))
    yield driver
    driver.quit()


def test_the_page_in_a_browser_reads_an_upload(model_files, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    config, weights = model_files
    url = f'http://127.0.0.1:{free_port()}/'
    log = tmp_path / 'demo.log'
    with open(log, 'w') as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / 'tools' / 'demo.py'), '--checkpoint', weights, '--config',
             config, '--device', 'cpu', '--port', url.split(':')[-1].strip('/')],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
            env=dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', OMP_NUM_THREADS='1'))
    try:
        expected = api_reading(config, weights, cv2.imread(str(SAMPLE)))   # while it starts
        wait_until_served(url, process, log)
        browser.get(url)
        wait = WebDriverWait(browser, 120)
        upload = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#image input[type=file]'))
        upload[0].send_keys(str(SAMPLE))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#image img'))
        browser.find_element(By.ID, 'read').click()
        wait.until(lambda d: expected in d.find_element(By.ID, 'words').text.splitlines())
        assert wait.until(lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('#attention img'))"
            '.filter(i => i.complete && i.naturalWidth > 128).length'))
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_model_paths_are_fixed_off_the_loopback_address(tool):
    import gradio as gr
    for host, editable in (('127.0.0.1', True), ('0.0.0.0', False)):
        page = tool.build_page(tool.parse_args(['--host', host, '--checkpoint', 'w.pth']), [])
        boxes = [b for b in page.blocks.values() if isinstance(b, gr.Textbox)]
        assert [b.value for b in boxes] == ['w.pth', None, None, None]
        assert all(b.interactive is editable for b in boxes), host


def test_without_a_config_the_checkpoints_own_is_read(tool, model_files, tmp_path):  # noqa: F811
    from mmengine.config import Config
    config, weights = model_files
    carrying, bare = tmp_path / 'carrying.pth', tmp_path / 'bare.pth'
    state = torch.load(weights, weights_only=True)['state_dict']
    torch.save(dict(state_dict=state, meta=dict(cfg=Config.fromfile(config).pretty_text)),
               str(carrying))
    torch.save(dict(state_dict=state, meta={}), str(bare))
    image = cv2.imread(str(SAMPLE))[..., ::-1]
    _, rows, _ = tool.read_words(image, tool.ALONE, str(carrying), '', '', '', device='cpu')
    assert rows[0][1] == api_reading(config, weights, image[..., ::-1].copy())
    with pytest.raises(ValueError, match=r"^.*bare.pth carries no config \(meta\['cfg'\]\): "
                                         'give the config it was trained with$'):
        tool.read_words(image, tool.ALONE, str(bare), None, '', '', device='cpu')
