"""Residents' personal data stays out of the logs."""
from __future__ import annotations

import logging

USER = "U" + "9" * 32


def test_no_message_text_name_or_user_id_in_the_logs(line, fake_line, joined, caplog, bot, time_machine):
    caplog.set_level(logging.INFO)
    time_machine.move_to("2026-12-01 09:00:00+09:00", tick=False)
    fake_line.profiles[USER] = {"displayName": "秘密の花子", "language": "ja"}
    joined(USER, name="秘密の花子")
    line.say(USER, "私の電話番号は090-1234-5678です")
    fake_line.fail_next(500)  # a failure is logged too: still without personal data
    line.say(USER, "menu")
    fake_line.fail_next(403)
    from datetime import timedelta

    from bot.delivery import worker
    time_machine.shift(timedelta(minutes=10))
    worker.run_once(bot)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "dead-lettered" in logged and "attempt 1 failed" in logged  # failures are logged, by id
    for secret in (USER, "秘密の花子", "090-1234-5678"):
        assert secret not in logged
