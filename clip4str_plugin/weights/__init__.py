"""All weight I/O: weights-only MMEngine checkpoints (torch's reader), the data-only unpickler
for official Lightning files and TorchScript CLIP archives, URLs, CLIP files, the official
CLIP4STR layout, decoder transfer, and whether a checkpoint fits the model. Importing it changes
nothing in MMEngine: see :func:`.mmengine_loader.use_weights_only_loader` and :mod:`.safe_loading`.
"""
