"""The recognizers' parts, by system: the shared PARSeq machinery, the CLIP towers, CLIP4STR's
dual decoder and DPTR's pre-training parts."""
from . import clip, clip4str, dptr, parseq  # noqa: F401  (registers every component)
