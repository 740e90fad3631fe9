"""The clock's watch on the JMA's Atom feeds (every minute, when `JMA_AREA_CODES` is set).

Each feed is fetched with If-None-Match / If-Modified-Since (nothing new: 304, nothing read);
the entries not seen before whose title is an earthquake's intensity report or a warning are
fetched and read (`bot.core.jma`), then, in one transaction per document, the entry is
remembered and `bot.services.jma.consider` prepares (or starts) a check. Nothing is fetched
inside a transaction. A feed or a document that fails is logged (its URL and the error, never
anything about residents) and tried again the next minute: an entry is remembered only once
its document was read."""
from __future__ import annotations

import logging
from urllib.parse import urljoin

import requests

from bot.core import jma
from bot.core.db import utcnow
from bot.delivery.pipeline import Bot
from bot.services import apply
from bot.services import jma as rules

log = logging.getLogger(__name__)
CLOCK = "clock"


def poll(bot: Bot, http: requests.Session | None = None) -> dict[str, int]:
    """One look at every feed. Returns counts: entries read, checks prepared and started, errors."""
    config = bot.config
    counts = {"read": 0, "prepared": 0, "started": 0, "errors": 0}
    if not config.jma_area_codes:
        return counts
    areas = set(config.jma_area_codes)
    http = http or requests.Session()
    for name in jma.FEEDS:
        url = urljoin(config.jma_feed_base_url, name)
        with bot.db.read() as s:
            state = rules.feed_state(s, url)
            etag, modified = (state.etag, state.last_modified) if state else (None, None)
        try:
            got = jma.fetch(url, etag=etag, last_modified=modified, timeout=config.jma_timeout_seconds, session=http)
            entries = [e for e in jma.entries(got.body) if jma.wanted(e)] if got.status == 200 else []
        except jma.JmaError as exc:
            counts["errors"] += 1
            log.warning("JMA feed %s: %s; trying again next minute", url, exc)
            with bot.db.session() as s:
                rules.record_feed(s, url, utcnow(), error=str(exc))
            continue
        with bot.db.read() as s:
            known = rules.seen(s, [e.id for e in entries])
        complete = True
        for entry in entries:
            if entry.id in known:
                continue
            try:
                report = jma.read(jma.fetch(entry.link, timeout=config.jma_timeout_seconds, session=http).body, areas)
            except jma.JmaError as exc:
                counts["errors"] += 1
                complete = False
                log.warning("JMA document %s: %s; trying again next minute", entry.link, exc)
                continue
            now = utcnow()
            with bot.db.session() as s:
                rules.mark_seen(s, entry.id, now)
                facts = apply(s, rules.consider(s, report, config, now), CLOCK).facts
                prepared = facts["prepared"].event_key if facts["prepared"] is not None else None
                started = facts["started"].id if facts["started"] is not None else None
            counts["read"] += 1
            if prepared:
                counts["prepared"] += 1
                log.info("JMA: safety check prepared for %s", prepared)
            if started:
                counts["started"] += 1
                log.info("JMA: safety check %s started by itself (JMA_AUTO_START)", started)
        with bot.db.session() as s:
            # Until every new document was read, the feed is asked again in full next minute.
            rules.record_feed(s, url, utcnow(), etag=got.etag if complete else None,
                              last_modified=got.last_modified if complete else None)
            rules.forget_old(s, utcnow())
    return counts
