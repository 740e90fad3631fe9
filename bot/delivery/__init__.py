"""Delivery: the inbox (webhook events as the bot's own dataclasses), the pipeline that
records and hands them on, the outbox and its worker, the LINE client and the LINE renderer.
Called by the edges; knows no feature."""
