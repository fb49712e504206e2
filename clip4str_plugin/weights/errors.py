"""Why a checkpoint cannot be used: one exception family, each message one line that names the
file and says what to do (tools print ``error: <message>`` and exit 1)."""
import re
import struct

# What torch's weights-only unpickler raises on malformed bytes (an empty stack popped ...).
MALFORMED_PICKLE_ERRORS = (EOFError, TypeError, ValueError, AttributeError, KeyError, IndexError,
                           RuntimeError, AssertionError, struct.error)


def unpickling_reason(err: Exception) -> str:
    """The one line of ``torch.load``'s weights-only error that says what was refused."""
    lines = [line.strip() for line in str(err).split('\n') if line.strip()]
    # what was refused follows "WeightsUnpickler error:" (on its line or the next one) in some
    # torch versions; others state it on a line of its own among paragraphs of advice
    marked = [i for i, line in enumerate(lines) if 'WeightsUnpickler error:' in line]
    if marked:
        i = marked[0]
        reason = lines[i].split('WeightsUnpickler error:', 1)[1].strip() or \
            (lines[i + 1] if i + 1 < len(lines) else '')
    else:
        reason = next((line for line in lines if re.search(
            r'GLOBAL|[Uu]nsupported|Can only|refus|reduce', line)),
            lines[0] if lines else type(err).__name__)
    reason = reason.split(' Please use')[0]
    return reason.strip().rstrip('.')    # (torch's advice to allow-list the global: not here)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used."""


class CheckpointReadError(CheckpointError):
    """The file cannot be read: empty, truncated, damaged, not a checkpoint, or running code."""


class ConfigTextError(CheckpointReadError):
    """A checkpoint's config text that is code, not data (refused, never run)."""


class CheckpointNotFoundError(CheckpointReadError, FileNotFoundError):
    """No file at the checkpoint's path."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint covers too little of the model, or has other shapes."""


class CheckpointValueError(CheckpointError):
    """Tensors bound for floating-point weights that are not finite floating-point numbers."""
