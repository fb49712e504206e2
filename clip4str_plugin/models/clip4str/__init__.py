"""CLIP4STR: the dual predict-and-refine decoder behind a CLIP image tower."""
from .decoder import CLIP4STRDecoder

__all__ = ['CLIP4STRDecoder']
