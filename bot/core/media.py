"""Photos people attach (a circular's photo): checked and re-encoded (served by bot.web.media).

A photo is decoded with Pillow, turned upright, stripped of its metadata (phones put the
place it was taken in there), scaled to at most 1600 px and saved as JPEG with a 240 px
preview, the two sizes LINE's image messages need. It is served at an unguessable URL,
because LINE fetches images from public https URLs."""
from __future__ import annotations

import io
import secrets
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from bot.core.config import Config
from bot.core.models import Media

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuses decompression bombs before decoding
FULL_SIZE = 1600
PREVIEW_SIZE = 240

class NotAnImage(ValueError):
    pass


@dataclass(frozen=True)
class Encoded:
    data: bytes
    preview: bytes
    width: int
    height: int


def encode(raw: bytes) -> Encoded:
    """A JPEG (≤ 1600 px, no metadata) and a preview (≤ 240 px) of `raw`, or NotAnImage."""
    if not raw or len(raw) > MAX_UPLOAD_BYTES:
        raise NotAnImage("empty or too large")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.width * img.height > MAX_PIXELS or img.format not in ("JPEG", "PNG", "GIF", "WEBP"):
                raise NotAnImage("unsupported")
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGB")
            full = img.copy()
            full.thumbnail((FULL_SIZE, FULL_SIZE))
            small = img.copy()
            small.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise NotAnImage(type(exc).__name__) from None

    def jpeg(im) -> bytes:
        out = io.BytesIO()
        im.save(out, "JPEG", quality=85, optimize=True)  # no exif= : the metadata is gone
        return out.getvalue()

    return Encoded(jpeg(full), jpeg(small), full.width, full.height)


def store(session: Session, raw: bytes) -> Media:
    enc = encode(raw)
    media = Media(token=secrets.token_urlsafe(24), data=enc.data, preview=enc.preview, width=enc.width,
                  height=enc.height)
    session.add(media)
    session.flush()
    return media


def urls(config: Config, media: Media | None) -> tuple[str, str] | None:
    """(full, preview) URLs: absolute when PUBLIC_BASE_URL is set (LINE needs https), else
    relative (the web chat and the pages)."""
    if media is None:
        return None
    base = (config.public_base_url or "").rstrip("/")
    return f"{base}/m/{media.token}.jpg", f"{base}/m/{media.token}/preview.jpg"
