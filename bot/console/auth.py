"""Signing in and out of the console: a password (staff accounts, hashed with Werkzeug's
scrypt), or a one-time link the bot sends a leader in LINE (「管理画面」).

Repeated failures make an account wait a little longer before each new try (1 s, 2 s, 4 s …, at
most a minute; a success starts again), and many failures from one address slow that address
down; both are kept in the database, so several web processes share them. A wrong password, an
unknown user name and an account that must wait get the same answer (401, one message), in
comparable time, so the answer does not tell which user names exist. The client's address is
`request.remote_addr`: behind reverse proxies, `TRUSTED_PROXIES` says how many to believe.

Sessions are kept on the server (`bot.services.console_sessions`): the cookie (HttpOnly, SameSite=Lax,
Secure over https) carries the session's token. Signing out ends the session; a new password,
or disabling the account, ends the account's other sessions (`end_sessions`)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from flask import abort, flash, g, has_request_context, redirect, render_template, request, session, url_for
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import object_session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.console import CONSOLE_LOCALES, audit, bot, bp, ct, current
from bot.services import console_sessions as sessions
from bot.core.db import utcnow
from bot.core.models import ConsoleLink, LoginFailure, Resident, StaffAccount
from bot.core.vocab import PrincipalKind

FREE_FAILURES = 3  # wrong passwords for an account before each new try must wait …
FIRST_DELAY = timedelta(seconds=1)  # … 1 s, then 2 s, 4 s …
MAX_DELAY = timedelta(seconds=60)  # … at most a minute (a lock would let anyone keep staff out)
FORGET_FAILURES = timedelta(minutes=15)  # an account left alone this long starts again from zero
ADDRESS_WINDOW = timedelta(minutes=15)
ADDRESS_MAX = 20  # failures from one address in the window before it must wait
LINK_VALID = timedelta(minutes=15)
@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real hash, so an unknown user name takes as long as a wrong password (made on first
    use, not at import: scrypt takes 32 MiB, which every process would carry otherwise)."""
    return generate_password_hash("not-a-password")


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, salted


def end_sessions(acct: StaffAccount, *, except_this_one: bool = False) -> None:
    """End every session of a password account (`acct` is in a write session): their records
    on the server end, and each request also compares the epoch its session was signed in with
    to the account's (`load_principal`). With `except_this_one`, the request's own session —
    when it is this account's — moves to the new epoch and stays."""
    acct.session_epoch = (acct.session_epoch or 0) + 1
    keep = None
    if except_this_one and has_request_context():
        who = session.get("console") or {}
        if who.get("kind") == PrincipalKind.STAFF and who.get("id") == acct.id:
            session["console"] = {**who, "epoch": acct.session_epoch}
            keep = who.get("sid")
    s = object_session(acct)
    if s is not None:
        s.flush()
        sessions.end_for_account(s, acct.id, keep=keep)


def failure_delay(failures: int) -> timedelta:
    """How long an account waits after its `failures`-th wrong password in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** min(failures - FREE_FAILURES, 20), MAX_DELAY)


def safe_next(value: str | None) -> str | None:
    """`value` if it is a console page of this site to go back to (a path, no host, no control
    characters), else None."""
    if not value or len(value) > 2000 or "\\" in value or any(ord(ch) < 33 or ord(ch) == 127 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not (parts.path == "/console" or parts.path.startswith("/console/")):
        return None
    return value


def _source() -> str:
    """The client's address, hashed (not stored as such)."""
    addr = request.remote_addr or ""  # ProxyFix sets it from trusted proxies only (TRUSTED_PROXIES)
    return hashlib.sha256(("tsunagari:" + addr).encode()).hexdigest()


@bp.get("/login")
def login():
    if current() is not None:
        return redirect(url_for("console.dashboard"))
    return render_template("console/login.html", next=safe_next(request.args.get("next")) or "")


@bp.post("/login")
def login_post():
    username = (request.form.get("username") or "").strip()[:60]
    password = request.form.get("password") or ""
    now = utcnow()
    source = _source()
    with bot().db.session() as s:
        recent = s.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.source == source, LoginFailure.at > now - ADDRESS_WINDOW)) or 0
        if recent >= ADDRESS_MAX:
            flash(ct("Too many failed sign-ins from here. Please wait 15 minutes."), "error")
            return render_template("console/login.html", next=""), 429
        acct = s.scalar(select(StaffAccount).where(StaffAccount.username == username))
        if acct is not None and _forgotten(acct.locked_until, now):
            acct.failed_logins = 0
        # An account that must wait is checked against the dummy hash: the same work, the same answer.
        waiting = acct is not None and acct.locked_until is not None and acct.locked_until > now
        known = acct is not None and not waiting
        ok = check_password_hash(acct.password_hash if known else _dummy_hash(), password) and known and acct.active
        if not ok:
            s.add(LoginFailure(source=source, at=now))
            if known:
                acct.failed_logins += 1
                acct.locked_until = now + failure_delay(acct.failed_logins)
            flash(ct("The user name or password is wrong, or there were several failed tries just now: "
                     "wait a minute and try again."), "error")
            return render_template("console/login.html", next=safe_next(request.form.get("next")) or ""), 401
        acct.failed_logins = 0
        acct.locked_until = None
        acct.last_login_at = now
        sessions.end(s, (session.get("console") or {}).get("sid"), now)  # whoever was signed in here before
        who = {"kind": PrincipalKind.STAFF, "id": acct.id, "epoch": acct.session_epoch,
               "sid": sessions.start(s, account_id=acct.id, now=now)}
        locale, name = acct.locale, acct.username
    session.clear()
    session.permanent = True
    session["console"] = who
    session["console_locale"] = locale
    g.pop("principal", None)
    with bot().db.session() as s:  # (the session's record is committed: the entry has its actor)
        audit(s, "sign_in", f"staff:{name}")
    return redirect(safe_next(request.form.get("next")) or url_for("console.dashboard"))


def _forgotten(last_failure: datetime | None, now: datetime) -> bool:
    return last_failure is not None and last_failure < now - FORGET_FAILURES


@bp.post("/logout")
def logout():
    signed_in = current() is not None
    with bot().db.session() as s:
        sessions.end(s, (session.get("console") or {}).get("sid"))  # a copy of the cookie is of no use now
        if signed_in:
            audit(s, "sign_out")
    session.clear()
    return redirect(url_for("console.login"))


@bp.post("/language")
def language():
    loc = request.form.get("locale", "ja")
    if loc in CONSOLE_LOCALES:
        session["console_locale"] = loc
    return redirect(safe_next(request.form.get("back")) or url_for("console.dashboard"))


# -- the one-time link from LINE --------------------------------------------------------------

def make_link(s, resident: Resident, base_url: str | None) -> str:
    """A sign-in link for a leader, valid 15 minutes, usable once (only its hash is stored).
    The resident's earlier links not used yet stop working."""
    token = secrets.token_urlsafe(32)
    s.execute(delete(ConsoleLink).where(or_(
        ConsoleLink.expires_at < utcnow(),
        and_(ConsoleLink.resident_id == resident.id, ConsoleLink.used_at.is_(None)))))
    s.add(ConsoleLink(token_hash=hashlib.sha256(token.encode()).hexdigest(), resident_id=resident.id,
                      expires_at=utcnow() + LINK_VALID))
    return f"{(base_url or '').rstrip('/')}/console/link/{token}"


def _link_usable(token: str) -> bool:
    if not 20 <= len(token) <= 64:
        return False
    with bot().db.read() as s:
        row = s.execute(select(ConsoleLink.used_at, ConsoleLink.expires_at).where(
            ConsoleLink.token_hash == hashlib.sha256(token.encode()).hexdigest())).first()
    return row is not None and row.used_at is None and row.expires_at >= utcnow()


@bp.get("/link/<token>")
def link(token: str):
    """A page with a button: LINE fetches links to preview them, so a GET must not sign in."""
    if not _link_usable(token):
        return render_template("console/link.html", token=None), 410
    return render_template("console/link.html", token=token)


@bp.post("/link/<token>")
def link_post(token: str):
    now = utcnow()
    with bot().db.session() as s:
        row = s.scalar(select(ConsoleLink).where(
            ConsoleLink.token_hash == hashlib.sha256(token.encode()).hexdigest()).with_for_update())
        if row is None or row.used_at is not None or row.expires_at < now:
            abort(410)
        row.used_at = now
        resident_id = row.resident_id
        sessions.end(s, (session.get("console") or {}).get("sid"), now)  # whoever was signed in here before
        sid = sessions.start(s, resident_id=resident_id, now=now)
    session.clear()
    session.permanent = True
    session["console"] = {"kind": PrincipalKind.RESIDENT, "id": resident_id, "sid": sid}
    g.pop("principal", None)
    if current() is None:  # not (or no longer) a leader
        session.clear()
        abort(403)
    with bot().db.session() as s:
        audit(s, "sign_in", f"resident:{resident_id}", via="line_link")
    return redirect(url_for("console.dashboard"))
