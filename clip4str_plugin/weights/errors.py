"""Why a checkpoint cannot be used: one exception family, each message one line that names the
file (when known) and says what to do. Tools print it as ``error: <message>`` and exit 1."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used."""


class CheckpointReadError(CheckpointError):
    """The file cannot be read as a checkpoint: empty, truncated, damaged, not a checkpoint, or
    asking to run code (refused)."""


class CheckpointNotFoundError(CheckpointReadError, FileNotFoundError):
    """No file at the checkpoint's path."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not fit the model built from the config: its keys cover too little
    of the model, or its tensors have other shapes."""
