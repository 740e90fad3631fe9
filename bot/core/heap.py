"""The long-running processes' heap after start-up.

A web worker holds about 235,000 objects once the app, its statements and every language's words
are loaded; Python's full (oldest-generation) garbage collection walks them all, about 110 ms on
this project's 2-vCPU machine, and it runs every so often in the middle of a request: the slow
tail of the webhook's latency. Freezing what start-up made (`gc.freeze()`) takes those objects out
of the collector's walks; what requests make is collected as before.
"""
from __future__ import annotations

import gc


def freeze_startup() -> None:
    """Call once, at the end of a process's warm-up: what exists now is kept for the process's
    life and is no longer walked by the garbage collector."""
    gc.collect()
    gc.freeze()
