"""Install clip4str_plugin beside MMOCR 1.x.

The requirements are ranges (requirements/runtime.txt), so that ``pip install -e .`` into an
existing MMOCR environment keeps its torch and its mmcv (full or lite); the exact, tested stack is
requirements/constraints.txt, which tools/install.sh applies (docs/install.md).
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name):
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


DEPLOY = read_requirements('deploy.txt')   # ONNX Runtime (+ onnx) and OpenVINO
DEMO = read_requirements('demo.txt')       # gradio, for tools/demo.py

setup(
    name='clip4str_plugin',
    version='0.1.0',
    description='CLIP4STR and DPTR scene text recognition as an MMOCR 1.x plugin',
    license='Apache-2.0',
    packages=find_packages(include=['clip4str_plugin', 'clip4str_plugin.*']),
    py_modules=['clip4str_mmcv_lite'],   # the mmcv._ext stand-in, imported before the plugin
    package_data={'clip4str_plugin': ['dicts/*.txt']},
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt') + DEPLOY,
                    'lite': read_requirements('lite.txt'),
                    'onnxruntime': [r for r in DEPLOY if r.startswith('onnx')],
                    'openvino': [r for r in DEPLOY if r.startswith('openvino')],
                    'deploy': DEPLOY,
                    'demo': DEMO,
                    'synth': read_requirements('synth.txt')},   # word lists, training fonts
)
