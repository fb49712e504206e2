"""All weight I/O: the data-only unpickler, MMEngine checkpoints, CLIP files, the official
CLIP4STR layout, decoder transfer and shape checks. Importing it changes nothing in MMEngine:
see :func:`.mmengine_loader.use_weights_only_loader` and :mod:`.safe_loading`."""
