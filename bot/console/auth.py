"""Signing in and out of the console: a password (staff accounts, hashed with Werkzeug's
scrypt), or a one-time link the bot sends a leader in LINE (「管理画面」).

Repeated failures lock an account for a while, and many failures from one address slow that
address down; both are kept in the database, so several web processes share them. The session
cookie is HttpOnly, SameSite=Lax, and Secure when the console is served over https. A new
password, or disabling the account, ends the account's other sessions (`end_sessions`)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import lru_cache

from flask import abort, flash, has_request_context, redirect, render_template, request, session, url_for
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from bot.console import CONSOLE_LOCALES, audit, bot, bp, ct, current
from bot.db import utcnow
from bot.models import ConsoleLink, LoginFailure, Resident, StaffAccount

MAX_FAILURES = 5  # then the account is locked
LOCK_FOR = timedelta(minutes=15)
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
    """End every session of a password account: each request compares the epoch its session
    was signed in with to the account's (`load_principal`). With `except_this_one`, the
    request's own session — when it is this account's — moves to the new epoch and stays."""
    acct.session_epoch = (acct.session_epoch or 0) + 1
    if except_this_one and has_request_context():
        who = session.get("console") or {}
        if who.get("kind") == "staff" and who.get("id") == acct.id:
            session["console"] = {**who, "epoch": acct.session_epoch}


def _source() -> str:
    """The client's address, hashed (not stored as such)."""
    addr = request.headers.get("X-Forwarded-For", request.remote_addr or "").split(",")[0].strip()
    return hashlib.sha256(("tsunagari:" + addr).encode()).hexdigest()


@bp.get("/login")
def login():
    if current() is not None:
        return redirect(url_for("console.dashboard"))
    return render_template("console/login.html", next=request.args.get("next", ""))


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
        if acct is not None and acct.locked_until and acct.locked_until > now:
            check_password_hash(_dummy_hash(), password)
            flash(ct("This account is locked after repeated failures. Try again later or ask the center."), "error")
            return render_template("console/login.html", next=""), 403
        ok = check_password_hash(acct.password_hash if acct else _dummy_hash(), password) and acct is not None and acct.active
        if not ok:
            s.add(LoginFailure(source=source, at=now))
            if acct is not None:
                acct.failed_logins += 1
                if acct.failed_logins >= MAX_FAILURES:
                    acct.locked_until = now + LOCK_FOR
                    acct.failed_logins = 0
            flash(ct("The user name or password is wrong."), "error")
            return render_template("console/login.html", next=request.form.get("next", "")), 401
        acct.failed_logins = 0
        acct.locked_until = None
        acct.last_login_at = now
        session.clear()
        session.permanent = True
        session["console"] = {"kind": "staff", "id": acct.id, "epoch": acct.session_epoch}
        session["console_locale"] = acct.locale
        from flask import g

        g.pop("principal", None)
        audit(s, "sign_in", f"staff:{acct.username}")
    nxt = request.form.get("next") or ""
    return redirect(nxt if nxt.startswith("/console") and not nxt.startswith("//") else url_for("console.dashboard"))


@bp.post("/logout")
def logout():
    if current() is not None:
        with bot().db.session() as s:
            audit(s, "sign_out")
    session.clear()
    return redirect(url_for("console.login"))


@bp.post("/language")
def language():
    loc = request.form.get("locale", "ja")
    if loc in CONSOLE_LOCALES:
        session["console_locale"] = loc
    back = request.form.get("back") or ""
    return redirect(back if back.startswith("/console") and not back.startswith("//") else url_for("console.dashboard"))


# -- the one-time link from LINE --------------------------------------------------------------

def make_link(s, resident: Resident, base_url: str | None) -> str:
    """A sign-in link for a leader, valid 15 minutes, usable once (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    s.execute(delete(ConsoleLink).where(ConsoleLink.expires_at < utcnow()))
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
    session.clear()
    session.permanent = True
    session["console"] = {"kind": "resident", "id": resident_id}
    from flask import g

    g.pop("principal", None)
    if current() is None:  # not (or no longer) a leader
        session.clear()
        abort(403)
    with bot().db.session() as s:
        audit(s, "sign_in", f"resident:{resident_id}", via="line_link")
    return redirect(url_for("console.dashboard"))
