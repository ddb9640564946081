"""Helpers for the browser tests: JSON from the API, pages with error capture, screenshots, pixel counts."""

from __future__ import annotations

import json
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


def get_json(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as res:
        return json.load(res)


class PageErrors(list):
    """Uncaught exceptions and console errors of one page; tests assert it stays empty."""


def open_page(browser: Any, base: str, **context_options: Any) -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(**context_options)
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    page.goto(base + "/")
    return context, page, errors


def screenshot(page: Any, name: str, **kwargs: Any) -> bytes:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **kwargs)


def decode_png(data: bytes) -> np.ndarray:
    """RGB(A) pixels of an 8-bit, non-interlaced PNG (what Chromium writes) as an (h, w, channels) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    assert header is not None
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, color, interlace = header[8], header[9], header[12]
    assert depth == 8 and color in (2, 6) and interlace == 0, (
        f"unsupported PNG: depth {depth}, colour {color}"
    )
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        f, row = raw[y, 0], raw[y, 1:].astype(np.int32)
        if f == 0:
            cur = row
        elif f == 1:  # Sub: a running sum per channel
            cur = np.cumsum(row.reshape(width, bpp), axis=0).reshape(-1) & 0xFF
        elif f == 2:  # Up
            cur = (row + prev) & 0xFF
        else:  # Average / Paeth depend on the reconstructed left pixel: go byte by byte
            cur = np.zeros(stride, np.int32)
            r, p = row.tolist(), prev.tolist()
            c = [0] * stride
            for i in range(stride):
                left = c[i - bpp] if i >= bpp else 0
                up = p[i]
                if f == 3:
                    c[i] = (r[i] + ((left + up) >> 1)) & 0xFF
                else:
                    ul = p[i - bpp] if i >= bpp else 0
                    pa, pb, pc = abs(up - ul), abs(left - ul), abs(left + up - 2 * ul)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                    c[i] = (r[i] + pred) & 0xFF
            cur = np.array(c, np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)[:, :, :3]


def non_background_pixels(
    png: bytes, background: tuple[int, int, int], tolerance: int = 24, margin: int = 8
) -> int:
    """How many pixels differ from ``background`` by more than ``tolerance`` in some channel, ignoring a
    ``margin`` of pixels along the edges (the panel's rounded border shows there)."""
    pixels = decode_png(png).astype(np.int16)
    if margin:
        pixels = pixels[margin:-margin, margin:-margin]
    diff = np.abs(pixels - np.array(background, np.int16)).max(axis=2)
    return int((diff > tolerance).sum())


def background_of(png: bytes) -> tuple[int, int, int]:
    """The most common colour of an image (its background)."""
    pixels = decode_png(png).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    return tuple(int(v) for v in colours[counts.argmax()])
