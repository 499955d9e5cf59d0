"""Minimal ICC v2 display profiles built byte by byte, for testing colour-managed input.

No ICC files ship with the test environment, and LittleCMS can only create sRGB, Lab and XYZ
profiles itself, so the tests write the two profiles the bad-input issue names: Adobe RGB (1998)
and a gray with linear gamma. The layout follows ICC.1:2001-04 (header, tag table, tags).
"""

from __future__ import annotations

import struct

_D50 = (0.9642, 1.0, 0.8249)


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)


def _curve(gamma: float) -> bytes:
    # count 1: a pure gamma, as u8Fixed8Number
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256)) + b"\0\0"


def _desc(text: str) -> bytes:
    ascii_ = text.encode() + b"\0"
    return (
        b"desc"
        + b"\0" * 4
        + struct.pack(">I", len(ascii_))
        + ascii_
        + b"\0" * 4
        + b"\0" * 4
        + b"\0" * 2
        + b"\0"
        + b"\0" * 67
    )


def _text(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode() + b"\0"


def _profile(colour_space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"none"
        + bytes([2, 0x10, 0, 0])
        + b"mntr"
        + colour_space
        + b"XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 4
        + b"\0" * 4
        + b"\0" * 8
        + b"\0" * 8
        + struct.pack(">I", 0)
        + _s15(_D50[0])
        + _s15(_D50[1])
        + _s15(_D50[2])
        + b"none"
        + b"\0" * 44
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def adobe_rgb() -> bytes:
    """Adobe RGB (1998): its primaries (adapted to D50, as ICC stores them) and gamma 563/256."""
    gamma = 563 / 256
    return _profile(
        b"RGB ",
        [
            (b"desc", _desc("Adobe RGB (1998) test profile")),
            (b"cprt", _text("public domain test data")),
            (b"wtpt", _xyz(*_D50)),
            (b"rXYZ", _xyz(0.60974, 0.31111, 0.01947)),
            (b"gXYZ", _xyz(0.20528, 0.62567, 0.06087)),
            (b"bXYZ", _xyz(0.14919, 0.06322, 0.74457)),
            (b"rTRC", _curve(gamma)),
            (b"gTRC", _curve(gamma)),
            (b"bTRC", _curve(gamma)),
        ],
    )


def linear_gray() -> bytes:
    """A gray whose values are linear light (gamma 1)."""
    return _profile(
        b"GRAY",
        [
            (b"desc", _desc("Linear gray test profile")),
            (b"cprt", _text("public domain test data")),
            (b"wtpt", _xyz(*_D50)),
            (b"kTRC", _curve(1.0)),
        ],
    )
