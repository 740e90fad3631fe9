"""One renderer per channel: the neutral replies (bot.core.replies) become what the outbox keeps
for that channel, a list of payloads, one per request the channel takes. LINE: its message JSON,
at most five messages a request (bot.delivery.render_line); the local web chat: the replies as
dicts, which its page draws. A new channel is a new entry here."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from bot.core.replies import Reply, to_dict
from bot.core.vocab import Channel
from bot.delivery import render_line

Payloads = list[list[dict[str, Any]]]


def _web(replies: Sequence[Reply]) -> Payloads:
    return [[to_dict(r) for r in replies]]


RENDERERS: dict[str, Callable[[Sequence[Reply]], Payloads]] = {
    Channel.LINE: render_line.render,
    Channel.WEB: _web,
}
# How many recipients one row may carry: a LINE multicast takes 500; the web chat one each.
RECIPIENTS_PER_ROW: dict[str, int] = {Channel.LINE: 500, Channel.WEB: 1}


def render(channel: str, replies: Sequence[Reply]) -> Payloads:
    return RENDERERS[channel](list(replies))
