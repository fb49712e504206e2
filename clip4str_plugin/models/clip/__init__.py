"""CLIP's image and text towers (open_clip modules), every token out."""
from .towers import CLIPTextEncoder, CLIPVisionBackbone

__all__ = ['CLIPTextEncoder', 'CLIPVisionBackbone']
