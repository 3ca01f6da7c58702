"""Product images as shop.product.images.add takes them: the type is read from the bytes (never from the
client's Content-Type or file name), only JPEG, PNG, GIF and WebP, and the width and height from the header."""

from __future__ import annotations

import struct

from services.odata.apiphp.errors import InvalidParam

MAX_IMAGE_BYTES = 8 * 1024 * 1024  # matches the CHECK on catalog.product_images.content
MAX_IMAGES_PER_PRODUCT = 50
MAX_SIDE = 65535
ACCEPTED = ("image/jpeg", "image/png", "image/gif", "image/webp")
# JPEG start-of-frame markers (baseline, progressive, ...) that carry the image size; not DHT, JPG, DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class NotAnImage(InvalidParam):
    pass


def _png(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _gif(data: bytes) -> tuple[int, int] | None:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 10:
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width, height


def _jpeg(data: bytes) -> tuple[int, int] | None:
    if data[:3] != b"\xff\xd8\xff":
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2:
            return None
        if marker in _SOF:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


_READERS = (("image/png", _png), ("image/gif", _gif), ("image/jpeg", _jpeg), ("image/webp", _webp))


def identify(data: bytes) -> tuple[str, tuple[int, int]]:
    """(content type, (width, height)) of an accepted image; NotAnImage otherwise."""
    if not data:
        raise NotAnImage("The file is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        raise NotAnImage(f"The image is larger than {MAX_IMAGE_BYTES} bytes.")
    for content_type, read in _READERS:
        size = read(data)
        if size is not None:
            if not all(1 <= side <= MAX_SIDE for side in size):
                raise NotAnImage("The image's width or height is out of range.")
            return content_type, size
    raise NotAnImage("The file is not an image of an accepted type (JPEG, PNG, GIF, WebP).")
