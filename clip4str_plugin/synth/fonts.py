"""TrueType fonts for the word and scene renderers: only fonts that draw all 94 characters.

Package fonts (matplotlib's DejaVu and STIX: the same on every machine) and, on request, any under
/usr/share/fonts. Named subsets for the demos: :func:`select_fonts`; the rendering presets' font
sets (PyPI font packages, held-out faces and families): :mod:`.word_presets`.
"""
import functools
import glob
import os
from typing import Sequence, Tuple

from clip4str_plugin.text.charsets import CHARSET_94


@functools.lru_cache(maxsize=None)
def draws_charset(path: str, charset: str = CHARSET_94) -> bool:
    """Whether the font file has glyphs for every character of ``charset`` (default the 94
    printable ASCII characters; an unreadable file does not)."""
    from fontTools.ttLib import TTFont
    try:
        cmap = TTFont(path, lazy=True).getBestCmap() or {}
    except Exception:  # an unreadable font file is simply not used
        return False
    return all(ord(c) in cmap for c in charset)


def fonts_drawing(fonts: Sequence[str], charset: str) -> Tuple[str, ...]:
    """The font files of ``fonts`` that draw every character of ``charset``; none is an error
    naming the charset's first characters."""
    found = tuple(path for path in fonts if draws_charset(path, charset))
    if not found:
        raise ValueError(f'none of {len(fonts)} fonts draws all of {charset[:20]!r}'
                         f'{"..." if len(charset) > 20 else ""}; choose other fonts')
    return found


def matplotlib_font_dir() -> str:
    import matplotlib
    return os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf')


@functools.lru_cache(maxsize=None)
def font_paths(system_fonts: bool = False) -> Tuple[str, ...]:
    """TrueType fonts that have glyphs for all 94 characters: matplotlib's (DejaVu, STIX; the
    same on every machine), plus those under /usr/share/fonts with ``system_fonts``."""
    candidates = sorted(glob.glob(os.path.join(matplotlib_font_dir(), '*.ttf')))
    if system_fonts:
        candidates += sorted(glob.glob('/usr/share/fonts/truetype/**/*.ttf', recursive=True))
    usable, seen = [], set()
    for path in candidates:
        name = os.path.basename(path)
        if name in seen or 'Display' in name or name.startswith(('cm', 'LastResort')):
            continue
        if draws_charset(path):
            usable.append(path)
            seen.add(name)
    if not usable:
        raise RuntimeError('no TrueType font with all 94 printable ASCII characters found '
                           '(matplotlib ships DejaVu; is it installed?)')
    return tuple(usable)


def package_fonts(names: Sequence[str]) -> Tuple[str, ...]:
    """The package fonts (:func:`font_paths`, in its order) with these file names; a missing
    one is an error."""
    found = tuple(p for p in font_paths() if os.path.basename(p) in names)
    missing = sorted(set(names) - {os.path.basename(p) for p in found})
    if missing:
        raise RuntimeError(f'fonts missing from matplotlib ({matplotlib_font_dir()}): '
                           f'{", ".join(missing)}')
    return found


#: Smaller font sets for quick demos: the upright DejaVu faces; DejaVu Sans (the CPU demo).
UPRIGHT_FONTS = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf',
                 'DejaVuSerif-Bold.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf')
SANS_FONTS = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf')


def select_fonts(kind: str = 'all') -> Tuple[str, ...]:
    """'all' package fonts, 'upright' (the six upright DejaVu faces), 'sans' (DejaVu Sans and
    Sans Bold: the CPU demo's) or 'system' (all, plus /usr/share/fonts)."""
    if kind in ('upright', 'sans'):
        return package_fonts(UPRIGHT_FONTS if kind == 'upright' else SANS_FONTS)
    if kind in ('all', 'system'):
        return font_paths(system_fonts=kind == 'system')
    raise ValueError(f"fonts must be 'all', 'upright', 'sans' or 'system', not {kind!r}")
