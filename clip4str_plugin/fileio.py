"""Files the tools write: checksums, atomic writes, and no output replaced without asking.

:func:`refuse_existing_output` is every writing tool's first step: an output that exists is
replaced only with ``--overwrite``, and a tool never writes onto one of its own inputs.
:func:`write_atomically` writes a file through a temporary name in its folder, so a reader sees
the previous file or the complete new one; a full disk (or quota) while it writes is a
:class:`NoSpaceError` whose message is one line naming the file.
"""
import contextlib
import errno
import glob
import hashlib
import os
import os.path as osp
import secrets
import shutil
import socket
from typing import Iterable, Iterator, Optional


class OutputExistsError(FileExistsError):
    """An output that exists (without ``overwrite``) or that is one of the tool's inputs."""


class NoSpaceError(OSError):
    """No space (or quota) left on the device while writing a file; ``str()`` is one line."""

    def __str__(self) -> str:
        return self.strerror


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _same_file(a: str, b: str) -> bool:
    if osp.exists(a) and osp.exists(b):
        return osp.samefile(a, b)
    return osp.realpath(a) == osp.realpath(b)


def check_output(path: str, overwrite: bool, inputs: Iterable[Optional[str]] = (),
                 what: str = '') -> None:
    """:class:`OutputExistsError` when ``path`` is one of ``inputs`` (always) or exists and
    ``overwrite`` is off. ``what`` names the output in the message (default: the path)."""
    path = os.fspath(path)
    name = what or path
    for source in inputs:
        if source and _same_file(path, os.fspath(source)):
            raise OutputExistsError(f'{name} is also the input {source}; write the output '
                                    'elsewhere')
    if not overwrite and osp.lexists(path):
        raise OutputExistsError(f'{name} already exists; pass --overwrite to replace it, or '
                                'write elsewhere')


def refuse_existing_output(path: str, overwrite: bool, inputs: Iterable[Optional[str]] = (),
                           what: str = '') -> None:
    """:func:`check_output` for a command-line tool: ``error: <message>``, exit status 1."""
    try:
        check_output(path, overwrite, inputs, what)
    except OutputExistsError as err:
        raise SystemExit(f'error: {err}') from None


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A temporary path in ``path``'s folder to write the file to; renamed to ``path`` (fsync
    first) when the block ends without an exception, removed otherwise."""
    path = osp.abspath(os.fspath(path))
    folder, name = osp.split(path)
    os.makedirs(folder, exist_ok=True)
    for stale in glob.glob(osp.join(glob.escape(folder), f'.{glob.escape(name)}.*.tmp')):
        with contextlib.suppress(FileNotFoundError):  # left by an earlier, interrupted write
            os.unlink(stale)
    temporary = osp.join(folder, f'.{name}.{secrets.token_hex(4)}.tmp')
    try:
        yield temporary
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            quota = ' (disk quota exceeded)' if err.errno == errno.EDQUOT else ''
            raise NoSpaceError(err.errno, f'no space left on device{quota} while writing '
                               f'{path}') from None
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)    # the rename itself reaches the disk
    finally:
        os.close(directory)


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in its folder (fsync, rename)."""
    with atomic_path(path) as temporary:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)


def _writer_gone(folder: str, prefix: str) -> bool:
    """Whether the hidden folder ``<prefix><host>-<pid>-<hex>`` was made by a process of this
    host that has ended (another host's, or a name of another form, is never judged gone)."""
    host, pid, _ = (osp.basename(folder)[len(prefix):].rsplit('-', 2) + ['', ''])[:3]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)        # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:                 # exists, owned by another user
        return False
    return False


@contextlib.contextmanager
def staged_folder(path: str) -> Iterator[str]:
    """A new hidden folder beside ``path`` (``.<name>.partial-<host>-<pid>-<hex>``) to write the
    contents of ``path`` into. When the block ends without an exception it replaces ``path``
    whole, by two renames (``path`` then holds all of the old files or all of the new, never a
    mix); on an exception it is removed. A process killed inside the block leaves the hidden
    folder, which the next staging of ``path`` removes once that process has ended."""
    path = osp.abspath(os.fspath(path))
    parent, name = osp.split(path)
    os.makedirs(parent, exist_ok=True)
    prefix = f'.{name}.partial-'
    for stale in glob.glob(osp.join(glob.escape(parent), glob.escape(prefix) + '*')):
        if _writer_gone(stale, prefix):
            shutil.rmtree(stale, ignore_errors=True)
    staging = osp.join(parent, f'{prefix}{socket.gethostname()}-{os.getpid()}-'
                               f'{secrets.token_hex(4)}')
    os.mkdir(staging)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if osp.lexists(path):
        old = osp.join(parent, f'.{name}.old-{secrets.token_hex(4)}')
        os.rename(path, old)
    os.rename(staging, path)
    if old and osp.isdir(old) and not osp.islink(old):
        shutil.rmtree(old)
    elif old:
        os.unlink(old)
