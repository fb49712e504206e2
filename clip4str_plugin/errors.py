"""Why data cannot be used: one exception family, each message one line that names the dataset
or file and says what to do (a tool may print it as ``error: <message>`` and exit 1).

A bottom module (it imports nothing of the package): datasets, models, text and the tools all
raise these."""


class DataError(ValueError):
    """A dataset, LMDB, label file or dictionary file that cannot be used.

    Raised in a DataLoader worker, it comes back re-made with the worker's traceback as its
    message; ``str()`` gives the original one line."""

    def __str__(self) -> str:
        text = super().__str__()
        if text.startswith('Caught ') and '\nOriginal Traceback' in text:
            last = text.rstrip().splitlines()[-1]      # 'module.DataError: <the message>'
            return last.split(': ', 1)[-1]
        return text


class DataNotFoundError(DataError, FileNotFoundError):
    """No data at the given path."""


class IncompleteLMDBError(DataError):
    """An LMDB whose writer stopped before closing it cleanly."""
