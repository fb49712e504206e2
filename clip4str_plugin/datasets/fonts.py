"""TrueType fonts for the word and scene renderers: only fonts that draw all 94 characters.

Package fonts (matplotlib's DejaVu and STIX: the same on every machine) and, on request, any under
/usr/share/fonts.
"""
import functools
import glob
import os
from typing import Tuple

from ..text.charsets import CHARSET_94


@functools.lru_cache(maxsize=None)
def font_paths(system_fonts: bool = False) -> Tuple[str, ...]:
    """TrueType fonts that have glyphs for all 94 characters: matplotlib's (DejaVu, STIX; the
    same on every machine), plus those under /usr/share/fonts with ``system_fonts``."""
    import matplotlib
    from fontTools.ttLib import TTFont
    candidates = sorted(glob.glob(os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf',
                                               '*.ttf')))
    if system_fonts:
        candidates += sorted(glob.glob('/usr/share/fonts/truetype/**/*.ttf', recursive=True))
    usable, seen = [], set()
    for path in candidates:
        name = os.path.basename(path)
        if name in seen or 'Display' in name or name.startswith(('cm', 'LastResort')):
            continue
        try:
            cmap = TTFont(path, lazy=True).getBestCmap() or {}
        except Exception:  # an unreadable font file is simply not used
            continue
        if all(ord(c) in cmap for c in CHARSET_94):
            usable.append(path)
            seen.add(name)
    if not usable:
        raise RuntimeError('no TrueType font with all 94 printable ASCII characters found '
                           '(matplotlib ships DejaVu; is it installed?)')
    return tuple(usable)


#: Smaller font sets for quick demos: the upright DejaVu faces; DejaVu Sans (the CPU demo).
UPRIGHT_FONTS = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf',
                 'DejaVuSerif-Bold.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf')
SANS_FONTS = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf')


def select_fonts(kind: str = 'all') -> Tuple[str, ...]:
    """'all' package fonts, 'upright' (the six upright DejaVu faces), 'sans' (DejaVu Sans and
    Sans Bold: the CPU demo's) or 'system' (all, plus /usr/share/fonts)."""
    if kind in ('upright', 'sans'):
        names = UPRIGHT_FONTS if kind == 'upright' else SANS_FONTS
        return tuple(p for p in font_paths() if os.path.basename(p) in names)
    if kind in ('all', 'system'):
        return font_paths(system_fonts=kind == 'system')
    raise ValueError(f"fonts must be 'all', 'upright', 'sans' or 'system', not {kind!r}")
