"""Install clip4str_plugin; the pinned stack is read from requirements/pins.txt."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name):
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


setup(
    name='clip4str_plugin',
    version='0.1.0',
    description='CLIP4STR and DPTR scene text recognition as an MMOCR 1.x plugin',
    packages=find_packages(include=['clip4str_plugin', 'clip4str_plugin.*']),
    py_modules=['clip4str_mmcv_lite'],   # the mmcv._ext stand-in, imported before the plugin
    package_data={'clip4str_plugin': ['dicts/*.txt']},
    python_requires='>=3.9',
    install_requires=read_requirements('pins.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
)
