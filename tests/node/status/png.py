"""Just enough PNG to check a screenshot's size and colours: 8-bit RGB or RGBA,
not interlaced (what Chromium writes); no image library needed."""

from __future__ import annotations

import struct
import zlib
from collections import Counter

SIGNATURE = b"\x89PNG\r\n\x1a\n"
LINE = (0x1F, 0x5F, 0xBF)
"""The charts' first series colour (node/status/charts.py COLOURS[0])."""


def read_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(SIGNATURE), "not a PNG"
    chunks, at = [], len(SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def get_size(data: bytes) -> tuple[int, int]:
    kind, header = read_chunks(data)[0]
    assert kind == b"IHDR"
    width, height = struct.unpack(">II", header[:8])
    return width, height


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def count_colours(data: bytes, rows: int) -> Counter[tuple[int, int, int]]:
    """How many pixels of the top `rows` rows have each RGB colour."""
    chunks = read_chunks(data)
    header = chunks[0][1]
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    previous = bytearray(stride)
    counts: Counter[tuple[int, int, int]] = Counter()
    for row in range(min(rows, height)):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            predictor = (0, left, up, (left + up) // 2, paeth(left, up, corner))[kind]
            line[i] = (line[i] + predictor) & 0xFF
        counts.update((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels))
        previous = line
    return counts


def near(colour: tuple[int, int, int], counts: Counter[tuple[int, int, int]]) -> int:
    """Pixels of `colour` give or take a little antialiasing."""
    return sum(
        n for c, n in counts.items() if max(abs(a - b) for a, b in zip(c, colour, strict=True)) <= 6
    )
