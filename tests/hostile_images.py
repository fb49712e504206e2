"""Image files as an attacker or a broken tool makes them, for the tests of every image reader:
a tiny PNG whose header claims a huge picture, and a FIFO named like an image."""
import os
import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def claimed_png(width: int, height: int) -> bytes:
    """A grey PNG whose header claims ``width x height`` pixels; only its first row is stored
    (about 100 bytes): readers must refuse it from the header, before decoding."""
    row = zlib.compress(b'\0' * (width + 1), 9)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0,
                                                                0, 0, 0))
            + _chunk(b'IDAT', row) + _chunk(b'IEND', b''))


def fifo(path: Path) -> Path:
    """A named pipe at ``path`` (reading it would block forever)."""
    os.mkfifo(path)
    return path
