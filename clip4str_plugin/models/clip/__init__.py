"""CLIP's image and text towers (open_clip modules), every token out; a small CLIP trained
here with open_clip's contrastive loss."""
from .contrastive import ContrastiveCLIP, clip_state_dict
from .towers import CLIPTextEncoder, CLIPVisionBackbone

__all__ = ['CLIPTextEncoder', 'CLIPVisionBackbone', 'ContrastiveCLIP', 'clip_state_dict']
