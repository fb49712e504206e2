"""Named rendering presets and font sets of the word renderer (:mod:`.word_renderer`).

Presets (``tools/make_synth_lmdb.py --preset NAME``, ``tools/main_job.py --preset NAME``):

* ``sans`` -- the easy preset of the main job: DejaVu Sans and Sans Bold, grey levels,
  distortions with probability 0.1, dictionary words of 2-6 letters.
* ``broad`` -- colour text on colour backgrounds (either polarity), every training font family
  (:data:`PYPI_TRAIN` and the upright DejaVu faces: sans, serif and mono, regular and bold),
  dictionary words of 3-12 letters in three casings plus 10 % random letter-digit strings,
  every distortion of the renderer with probability 0.2.
* ``broad-faces`` / ``broad-families`` -- the ``broad`` labels and rendering, drawn only with
  faces training never sees: the italic / oblique DejaVu faces and matplotlib's STIX
  (``faces``), or other families entirely (``families``: :data:`PYPI_HELDOUT`, sans, serif and
  mono, from the same ``synth`` extra, so the set is the same on every machine).
* ``scene`` -- the ``broad`` labels and fonts as scene-text crops
  (:class:`~.scene_renderer.SceneRenderer`): photo and photo-like backgrounds in natural colours,
  neighbouring text, font effects, curvature, perspective, tight and loose crops and camera
  degradations, each effect with probability 0.4.

Fonts come from packages only, so that a preset means the same images on every machine: DejaVu
and STIX ship with matplotlib; the other training and held-out families are PyPI ``fontpkg-*``
wheels (the ``synth`` extra, requirements/synth.txt; openly licensed), found with importlib.
"""
import importlib.util
import os
import string
from typing import Dict, Sequence, Tuple, Union

from clip4str_plugin.synth.errors import missing_synth_extra
from clip4str_plugin.synth.fonts import package_fonts, select_fonts

#: PyPI font packages -> training faces (regular and bold of each family).
PYPI_TRAIN = {
    'fontpkg_pt_sans': ('PT_Sans-Web-Regular.ttf', 'PT_Sans-Web-Bold.ttf'),           # sans
    'fontpkg_fira_sans': ('FiraSans-Regular.ttf', 'FiraSans-Bold.ttf'),                 # sans
    'fontpkg_pt_serif': ('PT_Serif-Web-Regular.ttf', 'PT_Serif-Web-Bold.ttf'),         # serif
    'fontpkg_ibm_plex_serif': ('IBMPlexSerif-Regular.ttf', 'IBMPlexSerif-Bold.ttf'),    # serif
    'fontpkg_ibm_plex_mono': ('IBMPlexMono-Regular.ttf', 'IBMPlexMono-Bold.ttf'),       # mono
    'fontpkg_space_mono': ('SpaceMono-Regular.ttf', 'SpaceMono-Bold.ttf'),              # mono
}
#: Faces never used in training, always available (matplotlib).
HELDOUT_FACES = ('DejaVuSans-Oblique.ttf', 'DejaVuSans-BoldOblique.ttf', 'DejaVuSerif-Italic.ttf',
                 'DejaVuSerif-BoldItalic.ttf', 'DejaVuSansMono-Oblique.ttf',
                 'DejaVuSansMono-BoldOblique.ttf', 'STIXGeneral.ttf', 'STIXGeneralBol.ttf',
                 'STIXGeneralItalic.ttf', 'STIXGeneralBolIta.ttf')
#: PyPI font packages -> families never used in training (upright; regular and bold where the
#: package has static faces, else its variable font's default instance).
PYPI_HELDOUT = {
    'fontpkg_lato': ('Lato-Regular.ttf', 'Lato-Bold.ttf'),                              # sans
    'fontpkg_arimo': ('Arimo[wght].ttf', ),                                             # sans
    'fontpkg_crimson_text': ('CrimsonText-Regular.ttf', 'CrimsonText-Bold.ttf'),        # serif
    'fontpkg_libre_baskerville': ('LibreBaskerville[wght].ttf', ),                      # serif
    'fontpkg_dm_mono': ('DMMono-Regular.ttf', 'DMMono-Medium.ttf'),                     # mono
    'fontpkg_source_code_pro': ('SourceCodePro[wght].ttf', ),                           # mono
}

ALNUM_62 = string.digits + string.ascii_lowercase + string.ascii_uppercase


def pypi_font_dir(package: str):
    """The ``files/`` folder of an installed ``fontpkg-*`` wheel, or None."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], 'files')


def pypi_fonts(packages: Dict[str, Tuple[str, ...]], what: str) -> Tuple[str, ...]:
    """The faces of PyPI font packages (the ``synth`` extra); a
    :class:`~.errors.MissingExtraError` names the missing packages."""
    paths, absent = [], []
    for package, faces in packages.items():
        folder = pypi_font_dir(package)
        found = [os.path.join(folder, f) for f in faces
                 if folder and os.path.isfile(os.path.join(folder, f))]
        if len(found) < len(faces):
            absent.append(package.replace('_', '-'))
        paths += found
    if absent:
        raise missing_synth_extra(what, ', '.join(absent))
    return tuple(paths)


#: Font sets by name: font files.
FONT_SETS = {
    'train': lambda: select_fonts('upright') + pypi_fonts(PYPI_TRAIN, 'the training fonts'),
    'heldout-faces': lambda: package_fonts(HELDOUT_FACES),
    'heldout-families': lambda: pypi_fonts(PYPI_HELDOUT, 'the held-out font families'),
}

#: ``render_samples`` keyword arguments of each preset (``fonts``: a font set of
#: :data:`FONT_SETS` or a :func:`~.fonts.select_fonts` kind).
PRESETS: Dict[str, dict] = {
    'sans': dict(fonts='sans', gray=True, distort=0.1, min_len=2, max_len=6,
                 random_fraction=0.0),
    'broad': dict(fonts='train', gray=False, distort=0.2, min_len=3, max_len=12,
                  random_fraction=0.1, random_charset=ALNUM_62),
}
PRESETS['broad-faces'] = dict(PRESETS['broad'], fonts='heldout-faces')
PRESETS['broad-families'] = dict(PRESETS['broad'], fonts='heldout-families')
PRESETS['scene'] = dict(PRESETS['broad'], distort=0.4, scene=True)


def resolve_fonts(fonts: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """A font-set name, a :func:`~.fonts.select_fonts` kind or a sequence of files -> files."""
    if not isinstance(fonts, str):
        return tuple(fonts)
    return FONT_SETS[fonts]() if fonts in FONT_SETS else select_fonts(fonts)


def preset_options(name: str) -> dict:
    """``render_samples`` options of a preset, its fonts resolved to files (possibly none)."""
    if name not in PRESETS:
        raise ValueError(f'unknown rendering preset {name!r}; one of {", ".join(PRESETS)}')
    options = dict(PRESETS[name])
    options['fonts'] = resolve_fonts(options['fonts'])
    return options
