"""Console accounts, for the center's staff (as `flask --app bot staff …`): the list, creating
one (center staff, an association's leader or a 班長), disabling and enabling, and setting a new
password that the staff member types and hands over. Disabling an account or giving it a new
password ends its sessions (but not the session of someone changing their own password). Every
change is in the audit log; password hashes are never shown."""
from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.console import CONSOLE_LOCALES, ROLES, audit, bot, bp, ct, current, passwords, require
from bot.console.auth import end_sessions, hash_password
from bot.console.events import form_int, show
from bot.core.db import utcnow
from bot.core.models import Association, StaffAccount
from bot.core.vocab import PrincipalKind, StaffRole

PASSWORD_MIN = passwords.MIN_LENGTH
PASSWORD_MAX = passwords.MAX_LENGTH
USERNAME = re.compile(r"[A-Za-z0-9._-]{3,60}")


def _page(errors: list[str] | None = None, form: dict | None = None, status: int = 200):
    now = utcnow()
    with bot().db.read() as s:
        associations = list(s.execute(select(Association.id, Association.name).order_by(Association.name)))
        names = dict(associations)
        rows = [{"id": a.id, "username": a.username, "name": a.display_name, "role": a.role,
                 "association": names.get(a.association_id, "—") if a.association_id else "—", "han": a.han or "—",
                 "active": a.active, "locked": bool(a.locked_until and a.locked_until > now),
                 "last_login": show(a.last_login_at) if a.last_login_at else ct("Never"), "locale": a.locale,
                 "me": a.id == current().id and current().kind == PrincipalKind.STAFF}
                for a in s.scalars(select(StaffAccount).order_by(StaffAccount.role, StaffAccount.username))]
    form = form or {"username": "", "name": "", "role": StaffRole.LEADER, "association_id": None, "han": "", "locale": "ja"}
    return render_template("console/accounts.html", rows=rows, associations=associations, form=form,
                           errors=errors or [], locales=CONSOLE_LOCALES, roles=ROLES, password_min=PASSWORD_MIN), status


@bp.get("/accounts")
@require(StaffRole.STAFF)
def accounts():
    return _page()


def _password_problem(password: str, username: str | None = None) -> str | None:
    found = passwords.problem(password, username)
    return ct(found[0], **found[1]) if found else None


@bp.post("/accounts")
@require(StaffRole.STAFF)
def account_create():
    f = request.form
    form = {"username": (f.get("username") or "").strip(), "name": (f.get("name") or "").strip(),
            "role": f.get("role") or "", "association_id": form_int("association_id"),
            "han": (f.get("han") or "").strip(), "locale": f.get("locale") or "ja"}
    password = f.get("password") or ""
    errors = []
    if not USERNAME.fullmatch(form["username"]):
        errors.append(ct("User name: 3 to 60 letters, digits, dots, hyphens or underscores."))
    if not form["name"] or len(form["name"]) > 60:
        errors.append(ct("Name: please fill this in (at most 60 characters)."))
    if form["role"] not in ROLES:
        errors.append(ct("Choose the role."))
    if form["locale"] not in CONSOLE_LOCALES:
        errors.append(ct("Choose the language of the console."))
    if form["role"] == StaffRole.HAN_LEADER and not form["han"]:
        errors.append(ct("A block leader needs their block (班)."))
    if len(form["han"]) > 30:
        errors.append(ct("Block (班): at most 30 characters."))
    problem = _password_problem(password, form["username"])
    if problem:
        errors.append(problem)
    with bot().db.read() as s:
        assoc_ok = bool(form["association_id"] and s.get(Association, form["association_id"]) is not None)
        taken = s.scalar(select(StaffAccount.id).where(StaffAccount.username == form["username"])) is not None
    if form["role"] in (StaffRole.LEADER, StaffRole.HAN_LEADER) and not assoc_ok:
        errors.append(ct("An association's leader or block leader needs their association."))
    if taken:
        errors.append(ct("The user name {name} is taken already.", name=form["username"]))
    if not errors:
        staff = form["role"] == StaffRole.STAFF
        hashed = hash_password(password)  # (slow on purpose: outside the write transaction)
        with bot().db.session() as s:
            acct = StaffAccount(username=form["username"], display_name=form["name"], password_hash=hashed,
                                role=form["role"], association_id=None if staff else form["association_id"],
                                han=form["han"] if form["role"] == StaffRole.HAN_LEADER else None, locale=form["locale"],
                                created_at=utcnow())
            s.add(acct)
            s.flush()
            audit(s, "create_account", f"account:{acct.username}", role=acct.role, association=acct.association_id,
                  han=acct.han)
    if errors:
        return _page(errors, form, 400)
    flash(ct("The account {name} has been created. Give them the password in person, not by e-mail.",
             name=form["username"]), "ok")
    return redirect(url_for("console.accounts"))


@bp.post("/accounts/<int:account_id>/active")
@require(StaffRole.STAFF)
def account_active(account_id: int):
    active = request.form.get("active") == "1"
    with bot().db.session() as s:
        acct = s.get(StaffAccount, account_id)
        if acct is None:
            flash(ct("That account was not found."), "error")
            return redirect(url_for("console.accounts"))
        if not active and current().kind == PrincipalKind.STAFF and acct.id == current().id:
            flash(ct("You cannot disable your own account."), "error")
            return redirect(url_for("console.accounts"))
        username = acct.username
        if acct.active != active:
            acct.active = active
            if active:
                acct.failed_logins, acct.locked_until = 0, None
            else:  # its sessions end now, and do not come back if it is enabled again
                end_sessions(acct)
            audit(s, "enable_account" if active else "disable_account", f"account:{username}")
    flash(ct("The account {name} can sign in again.", name=username) if active
          else ct("The account {name} is disabled: it cannot sign in, and its sessions have ended.", name=username), "ok")
    return redirect(url_for("console.accounts"))


@bp.post("/accounts/<int:account_id>/password")
@require(StaffRole.STAFF)
def account_password(account_id: int):
    """A new password for an account: its sessions elsewhere end (someone who knew the old one
    is signed out); when it is the signed-in person's own account, this session stays."""
    password = request.form.get("password") or ""
    with bot().db.read() as s:
        username = s.scalar(select(StaffAccount.username).where(StaffAccount.id == account_id))
    problem = _password_problem(password, username)
    if problem:
        flash(problem, "error")
        return redirect(url_for("console.accounts"))
    hashed = hash_password(password)
    with bot().db.session() as s:
        acct = s.get(StaffAccount, account_id)
        if acct is None:
            flash(ct("That account was not found."), "error")
            return redirect(url_for("console.accounts"))
        acct.password_hash, acct.failed_logins, acct.locked_until = hashed, 0, None
        end_sessions(acct, except_this_one=True)
        username = acct.username
        mine = current().kind == PrincipalKind.STAFF and acct.id == current().id
        audit(s, "reset_password", f"account:{username}", sessions_ended=True)
    if mine:
        flash(ct("Your password has been changed. Your other sessions have ended; this one stays signed in."), "ok")
    else:
        flash(ct("The password of {name} has been changed (and the account unlocked). Where it was signed in, it is "
                 "signed out now.", name=username), "ok")
    return redirect(url_for("console.accounts"))
