"""The join link as a QR code (segno) for the projector: PNG bytes for the page, SVG text for slides."""

from __future__ import annotations

import io

import segno

MAX_LINK = 512  # characters: a join link is a host, a path and a room code


def _code(link: str) -> segno.QRCode:
    if not isinstance(link, str) or not 0 < len(link) <= MAX_LINK:
        raise ValueError("a join link is 1-512 characters")
    # Level M survives a smudged projector or a phone held at an angle; a border of 4 modules is the standard's.
    return segno.make(link, error="m", micro=False)


def png(link: str, scale: int = 10) -> bytes:
    buf = io.BytesIO()
    _code(link).save(buf, kind="png", scale=scale, border=4, dark="#000000", light="#ffffff")
    return buf.getvalue()


def svg(link: str, scale: int = 10) -> str:
    buf = io.BytesIO()
    _code(link).save(buf, kind="svg", scale=scale, border=4, dark="#000000", light="#ffffff", xmldecl=False)
    return buf.getvalue().decode()
