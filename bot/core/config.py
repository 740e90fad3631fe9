"""Configuration, read from the environment (and an optional `.env` file) when the app is built.

Nothing here runs at import: `Config.from_env()` is called by `create_app()`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parents[2]  # the repository: bot/core/config.py → ../../..


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    line_channel_secret: str | None = None
    line_channel_access_token: str | None = None
    line_api_base_url: str = "https://api.line.me"
    # Where photos residents send are downloaded from. Default: LINE's data host, or the same
    # base URL when LINE_API_BASE_URL points elsewhere (a fake LINE API serves both).
    line_data_api_base_url: str | None = None
    database_url: str | None = None  # None: a SQLite file under the instance folder
    tz_name: str = "Asia/Tokyo"
    # Signs the console's session cookie. None: refused in production (`production`); in
    # development a random key kept in the instance folder (bot.security.secret_key).
    secret_key: str | None = None
    # The local web chat: None means "on when no LINE channel is configured".
    webchat_enabled: bool | None = None
    default_locale: str = "ja"
    conversation_ttl_seconds: int = 30 * 60
    max_webhook_bytes: int = 1024 * 1024
    line_timeout_seconds: float = 5.0
    outbox_max_attempts: int = 10
    outbox_stale_seconds: int = 120  # a row left "sending" this long is taken back
    # A webhook reply's send is recorded with the process's next event, or after this long (0: at once)
    reply_record_ms: int = 200
    inbox_stale_seconds: int = 30  # an event recorded but not handled this long is retried
    area_file: str = str(ROOT / "data" / "cities" / "demo.json")
    locales_dir: str = str(ROOT / "locales")
    # Mutual aid: the categories offered (codes from bot.services.mutual_aid.CATEGORIES), in order.
    help_categories: tuple[str, ...] = (
        "garbage", "dog", "garden", "shopping", "phone", "tidying", "ride", "childwatch", "lending", "other",
    )
    helper_daily_cap: int = 3  # notices of new requests per helper per day
    report_threshold: int = 2  # reports that hide a request or a relayed message
    event_reminder_hour: int = 18  # the day-before reminder, local time
    public_base_url: str | None = None  # e.g. https://tsunagari.example.city: links to /c/<token>
    # Sending: threads per worker, and LINE's rate limits with margin (shared by the workers).
    worker_threads: int = 8
    line_worker_processes: int = 1
    line_push_per_second: float = 1500.0  # LINE: 2,000/s
    line_multicast_per_second: float = 150.0  # LINE: 200/s
    line_broadcast_per_hour: float = 50.0  # LINE: 60/hour
    # The clock.
    misfire_grace_seconds: int = 3600  # a run missed by a restart is still sent this late
    announcement_chunk: int = 10000  # residents an announcement queues per transaction
    garbage_reminder_hour: int = 19  # "tomorrow is burnable garbage day", the evening before
    # A CSV `area,garbage_area` mapping the city's areas to the garbage calendar's collection
    # areas, for the suggestion when a resident chooses theirs (bot.services.garbage.suggested_areas).
    garbage_area_map: str | None = None
    digest_hour: int = 8  # the daily digest of announcements
    reminder_limit: int = 20  # personal reminders per resident
    japanese_era: bool = False  # show Japanese dates with the era year (令和8年…)
    # The second language of names and content with no translation in the resident's own
    # (bot.core.names): the chain is theirs → this → Latin letters → Japanese.
    fallback_language: str = "en"
    resident_events_per_minute: int = 30  # more from one resident is answered once, then ignored
    unfollowed_retention_days: int = 180  # data of residents who unfollowed is deleted after this
    line_monthly_quota: int = 0  # messages a month the LINE plan includes (0: unlimited), for the dashboard
    # The city's target for the share of residents taking part in local activity each month
    # (percent; the dashboard's participation figure draws it as a line).
    participation_target: float = 65.0
    # Reverse proxies in front of the web process whose X-Forwarded-For/-Proto are believed
    # (0: none, the client's own address is used; 1: one nginx or load balancer; …).
    trusted_proxies: int = 0
    # Webhook events older than this are refused (a replayed capture); LINE redelivers sooner.
    webhook_max_event_age_seconds: int = 3600
    # Machine translation (bot.core.translate): off unless a provider is named. "deepl" or
    # "google"; the key from the environment; the base URL defaults to the provider's own.
    mt_provider: str = ""
    mt_api_key: str | None = None
    mt_api_base_url: str | None = None
    mt_timeout_seconds: float = 5.0
    # Disaster mode's "Contact" button: the center's phone number (none: a sentence saying 119/110).
    center_phone: str | None = None
    # The JMA's feeds (bot.services.jma): off unless the city's area codes are given (地震情報／細分区域
    # and 市町村等 codes for earthquakes, 市町村等 codes for warnings).
    jma_feed_base_url: str = "https://www.data.jma.go.jp/developer/xml/feed/"
    jma_area_codes: tuple[str, ...] = ()
    jma_min_intensity: str = "5-"  # 5弱
    jma_special_warnings: bool = False  # act on 特別警報 too
    jma_auto_start: bool = False  # start the prepared check at once (else staff start it with one tap)
    jma_timeout_seconds: float = 10.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def line_configured(self) -> bool:
        return bool(self.line_channel_secret and self.line_channel_access_token)

    @property
    def production(self) -> bool:
        """A real deployment: a LINE channel (or either of its credentials) is configured, or
        the bot is served at an https address. The console's secret key must then be strong."""
        return bool(self.line_channel_secret or self.line_channel_access_token) or \
            (self.public_base_url or "").startswith("https://")

    @property
    def line_data_url(self) -> str:
        if self.line_data_api_base_url:
            return self.line_data_api_base_url
        if self.line_api_base_url.rstrip("/") == "https://api.line.me":
            return "https://api-data.line.me"
        return self.line_api_base_url

    @property
    def webchat_on(self) -> bool:
        if self.webchat_enabled is None:
            return not self.line_configured
        return self.webchat_enabled

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Config":
        if env is None:
            _load_dotenv()
            env = os.environ
        values: dict[str, Any] = {
            "line_channel_secret": env.get("LINE_CHANNEL_SECRET") or None,
            "line_channel_access_token": env.get("LINE_CHANNEL_ACCESS_TOKEN") or None,
            "line_api_base_url": env.get("LINE_API_BASE_URL") or cls.line_api_base_url,
            "database_url": env.get("DATABASE_URL") or None,
            "tz_name": env.get("TZ_NAME") or cls.tz_name,
            "secret_key": env.get("FLASK_SECRET_KEY") or cls.secret_key,
            "webchat_enabled": _bool(env.get("WEBCHAT_ENABLED"), None)  # type: ignore[arg-type]
            if env.get("WEBCHAT_ENABLED")
            else None,
        }
        if env.get("FALLBACK_LANGUAGE"):
            values["fallback_language"] = env["FALLBACK_LANGUAGE"]
        if env.get("JAPANESE_ERA"):
            values["japanese_era"] = _bool(env["JAPANESE_ERA"], False)
        if env.get("LINE_DATA_API_BASE_URL"):
            values["line_data_api_base_url"] = env["LINE_DATA_API_BASE_URL"]
        if env.get("AREA_FILE"):
            values["area_file"] = env["AREA_FILE"]
        if env.get("GARBAGE_AREA_MAP"):
            values["garbage_area_map"] = env["GARBAGE_AREA_MAP"]
        if env.get("PUBLIC_BASE_URL"):
            values["public_base_url"] = env["PUBLIC_BASE_URL"]
        for key, name in (("EVENT_REMINDER_HOUR", "event_reminder_hour"), ("GARBAGE_REMINDER_HOUR", "garbage_reminder_hour"),
                          ("DIGEST_HOUR", "digest_hour"), ("MISFIRE_GRACE_SECONDS", "misfire_grace_seconds"),
                          ("WORKER_THREADS", "worker_threads"), ("LINE_WORKER_PROCESSES", "line_worker_processes"),
                          ("OUTBOX_STALE_SECONDS", "outbox_stale_seconds"), ("REPLY_RECORD_MS", "reply_record_ms"),
                          ("LINE_MONTHLY_QUOTA", "line_monthly_quota"),
                          ("RESIDENT_EVENTS_PER_MINUTE", "resident_events_per_minute"),
                          ("UNFOLLOWED_RETENTION_DAYS", "unfollowed_retention_days"),
                          ("ANNOUNCEMENT_CHUNK", "announcement_chunk"),
                          ("WEBHOOK_MAX_EVENT_AGE_SECONDS", "webhook_max_event_age_seconds")):
            if env.get(key, "").isdigit():
                values[name] = int(env[key])
        if env.get("MT_PROVIDER"):
            values["mt_provider"] = env["MT_PROVIDER"].strip().lower()
        if env.get("MT_API_KEY"):
            values["mt_api_key"] = env["MT_API_KEY"].strip()
        if env.get("MT_API_BASE_URL"):
            values["mt_api_base_url"] = env["MT_API_BASE_URL"].strip()
        if env.get("PARTICIPATION_TARGET", "").strip():
            try:
                target = float(env["PARTICIPATION_TARGET"].strip().rstrip("%"))
            except ValueError:
                target = -1.0
            if not 0 <= target <= 100:
                raise ValueError("PARTICIPATION_TARGET must be a percentage between 0 and 100")
            values["participation_target"] = target
        if env.get("TRUSTED_PROXIES", "").strip().isdigit():
            values["trusted_proxies"] = int(env["TRUSTED_PROXIES"].strip())
        if env.get("CENTER_PHONE", "").strip():
            values["center_phone"] = env["CENTER_PHONE"].strip()
        if env.get("JMA_FEED_BASE_URL", "").strip():
            values["jma_feed_base_url"] = env["JMA_FEED_BASE_URL"].strip()
        if env.get("JMA_AREA_CODES"):
            values["jma_area_codes"] = tuple(c.strip() for c in env["JMA_AREA_CODES"].split(",") if c.strip())
        if env.get("JMA_MIN_INTENSITY", "").strip():
            values["jma_min_intensity"] = env["JMA_MIN_INTENSITY"].strip()
        if env.get("JMA_SPECIAL_WARNINGS"):
            values["jma_special_warnings"] = _bool(env["JMA_SPECIAL_WARNINGS"], False)
        if env.get("JMA_AUTO_START"):
            values["jma_auto_start"] = _bool(env["JMA_AUTO_START"], False)
        if env.get("HELP_CATEGORIES"):
            values["help_categories"] = tuple(c.strip() for c in env["HELP_CATEGORIES"].split(",") if c.strip())
        values.update(overrides)
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> "Config":
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in overrides.items() if k in known})


def _load_dotenv() -> None:
    """Let a `.env` file in the working directory supply variables not already set."""
    load_dotenv(override=False)
