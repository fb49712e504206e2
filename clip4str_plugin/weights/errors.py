"""Why a checkpoint cannot be used: one exception family, each message one line that names the
file (when known) and says what to do. Tools print it as ``error: <message>`` and exit 1."""
import struct

# What an unpickler (torch's weights-only reader or the plugin's) raises on malformed bytes:
# an opcode that pops an empty stack, a memo index never stored, an argument cut short ...
MALFORMED_PICKLE_ERRORS = (EOFError, TypeError, ValueError, AttributeError, KeyError, IndexError,
                           RuntimeError, AssertionError, struct.error)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used."""


class CheckpointReadError(CheckpointError):
    """The file cannot be read as a checkpoint: empty, truncated, damaged, not a checkpoint, or
    asking to run code (refused)."""


class ConfigTextError(CheckpointReadError):
    """A checkpoint's config text that is code, not data (refused, never run)."""


class CheckpointNotFoundError(CheckpointReadError, FileNotFoundError):
    """No file at the checkpoint's path."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not fit the model built from the config: its keys cover too little
    of the model, or its tensors have other shapes."""
