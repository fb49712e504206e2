"""Why data cannot be used: one exception family, each message one line that names the dataset
or file and says what to do (a tool may print it as ``error: <message>`` and exit 1)."""


class DataError(ValueError):
    """A dataset, LMDB, label file or dictionary file that cannot be used."""


class DataNotFoundError(DataError, FileNotFoundError):
    """No data at the given path."""


class IncompleteLMDBError(DataError):
    """An LMDB whose writer stopped before closing it cleanly."""
