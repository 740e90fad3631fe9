"""Conversations: one module per flow, registered here in one place."""
from __future__ import annotations

from conversations import (
    ask_help,
    compose_circular,
    create_event,
    delete_data,
    edit_request,
    event_signup,
    garbage_setup,
    helper_registry,
    offer,
    onboarding,
    relay,
    reminder_new,
    roster,
    safety_help,
    safety_shelter,
    safety_start,
    settings,
    support_register,
    thanks,
)
from conversations.engine import Flow


def _build() -> dict[str, Flow]:
    registry: dict[str, Flow] = {}
    for module in (onboarding, settings, delete_data, ask_help, offer, relay, thanks, edit_request, helper_registry,
                   event_signup, create_event, compose_circular, roster, reminder_new, garbage_setup, safety_help,
                   safety_start, support_register, safety_shelter):
        flow = module.FLOW
        if flow.name in registry:
            raise RuntimeError(f"two flows are named {flow.name!r}")
        registry[flow.name] = flow
    return registry


_REGISTRY: dict[str, Flow] | None = None


def registry() -> dict[str, Flow]:
    """All flows by name (built on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build()
    return _REGISTRY


def get(name: str) -> Flow | None:
    return registry().get(name)
