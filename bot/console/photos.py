"""A photo attached to a console form (an announcement's, a circular's).

It is stored as soon as the form comes in, through `bot.core.media` (decoded, turned upright, its
metadata — the place a phone took it — removed, scaled), so that an error elsewhere on the form
does not lose it; from then on the form carries the stored photo's token in a hidden field, through
its errors and its preview. A photo nothing ends up using is deleted by the housekeeping job."""
from __future__ import annotations

from flask import request

from bot.core import media
from bot.console import bot, ct

REQUEST_LIMIT = media.MAX_UPLOAD_BYTES + 1_000_000  # a console form with a photo (the app's is for webhooks)
FORM_MARGIN = 200_000  # bytes a compose form takes beside its photo


def limit(margin: int = FORM_MARGIN) -> int:
    """The largest photo a form can take: the one media takes, if the console's request limit
    leaves room for the rest of the form (the same on the empty form and on a form sent back)."""
    return max(0, min(media.MAX_UPLOAD_BYTES, REQUEST_LIMIT - margin))


def megabytes(n: int) -> str:
    """A size for people: 10485760 → "10" (MB as computers count them, 1,048,576 bytes)."""
    return f"{n / 2**20:.3g}"


def refused_message() -> str:
    return ct("The photo must be a JPEG or PNG picture of at most {mb} MB.", mb=megabytes(media.MAX_UPLOAD_BYTES))


def take(token: str, errors: dict[str, str], field: str = "photo") -> str:
    """The photo token the form carries from now on: none when "remove_photo" is ticked, a
    newly attached photo's (stored now), else `token`. A file that is not a picture, or is too
    large, adds an error under `field` and leaves the photo as it was."""
    if request.form.get("remove_photo") == "1":
        token = ""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        return token
    raw = upload.read(media.MAX_UPLOAD_BYTES + 1)
    try:
        with bot().db.session() as s:
            return media.store(s, raw).token
    except media.NotAnImage:
        errors[field] = refused_message()
        return token
