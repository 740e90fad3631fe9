"""The staff and leader console (`/console`): center staff see and do everything; an
association's leader (会長) sees their association; a 班長 their 班. Roles are checked on the
server for every page and action (`require`), every form carries a CSRF token (Flask-WTF), and
every change is written to the audit log.

Who is signed in is a `Principal`, rebuilt from the database on every request, so a role taken
away takes effect at once. Sessions are kept on the server (`sessions`): signing out, a new
password, disabling the account or a leader's role taken away ends them, whatever cookie is shown
later; a password account's session also carries the account's session epoch. Staff sign in
with a password (`flask --app bot staff create`); a leader may also sign in from LINE with a
one-time link (「管理画面」). Changes from someone not signed in are refused before their body is
read (`_console_gate`).

The console's words come from the Babel catalogs' `console` domain, in Japanese (default) or
English: `ct("English msgid", **named)` in code and templates.

Pages live in one module each (`dashboard`, `announcements`, `circulars`, …), registered on the
one blueprint `bp`."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from bot import services
from bot.core.config import ROOT
from bot.core.i18n import translations_for
from bot.core.media import MAX_UPLOAD_BYTES
from bot.core.models import AuditEntry, Household, Membership, Resident, StaffAccount
from bot.core.vocab import PrincipalKind, Role, StaffRole
from bot.services import console_sessions as sessions
from bot.wiring import current_bot

bp = Blueprint("console", __name__, url_prefix="/console")
CONSOLE_LOCALES = {"ja": "日本語", "en": "English"}
ROLES = (StaffRole.STAFF, StaffRole.LEADER, StaffRole.HAN_LEADER)


@dataclass
class Principal:
    kind: str  # staff (a password account) | resident (a leader signed in from LINE)
    id: int
    name: str
    role: str  # staff | leader | han_leader
    locale: str = "ja"
    # association id -> None (the whole association) or the one 班 they may see
    scope: dict[int, str | None] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def is_staff(self) -> bool:
        return self.role == StaffRole.STAFF

    def sees_association(self, association_id: int) -> bool:
        return self.is_staff or association_id in self.scope

    def han_for(self, association_id: int) -> str | None:
        """The 班 a 班長 is limited to in that association (None: all of it)."""
        return None if self.is_staff else self.scope.get(association_id)

    def sees_han(self, association_id: int, han: str | None) -> bool:
        if not self.sees_association(association_id):
            return False
        limit = self.han_for(association_id)
        return limit is None or limit == han


def bot():
    return current_bot()


# -- who is signed in -------------------------------------------------------------------------

def load_principal() -> Principal | None:
    who = session.get("console")
    if not who or not isinstance(who, dict):
        return None
    with bot().db.read() as s:
        # The session's record on the server: once it has ended, no cookie signs anyone in.
        record = sessions.live(s, who.get("sid"), current_app.permanent_session_lifetime)
        if record is None:
            return None
        touch, leader_id = sessions.needs_touch(record), record.resident_id
        p = _principal(s, who, record)
    if p is None and leader_id is not None:
        with bot().db.session() as w:  # no longer a leader: the session ends (it does not come back with the role)
            sessions.end_for_resident(w, leader_id)
    elif touch:
        with bot().db.session() as w:
            sessions.touch(w, who["sid"])
    return p


def _principal(s, who: dict, record) -> Principal | None:
    if who.get("kind") == PrincipalKind.STAFF:
        acct = s.get(StaffAccount, who.get("id"))
        if acct is None or record.staff_account_id != acct.id or not acct.active \
                or who.get("epoch", 0) != acct.session_epoch:
            return None  # disabled, or its password changed since this session signed in
        scope = {acct.association_id: acct.han} if acct.association_id else {}
        return Principal(PrincipalKind.STAFF, acct.id, acct.display_name, acct.role, acct.locale, scope)
    resident = s.get(Resident, who.get("id"))
    if resident is None or record.resident_id != resident.id or not resident.onboarded:
        return None
    scope: dict[int, str | None] = {}
    role = None
    for assoc_id, r, han in s.execute(
            select(Membership.association_id, Membership.role, Household.han)
            .outerjoin(Household, Household.id == Membership.household_id)
            .where(Membership.resident_id == resident.id, Membership.role.in_([Role.LEADER, Role.HAN_LEADER]))):
        if r == Role.LEADER:
            scope[assoc_id], role = None, StaffRole.LEADER
        elif han:
            scope.setdefault(assoc_id, han)
            role = role or StaffRole.HAN_LEADER
    if not scope:
        return None  # no longer a leader
    locale = resident.locale if resident.locale in CONSOLE_LOCALES else "ja"
    return Principal(PrincipalKind.RESIDENT, resident.id, resident.nickname or "?", role or StaffRole.HAN_LEADER,
                     session.get("console_locale", locale), scope)


def current() -> Principal | None:
    if "principal" not in g:
        g.principal = load_principal()
    return g.principal


def require(*roles: str) -> Callable:
    """Only signed-in people with one of `roles` (default: any console role); others get the
    sign-in page (signed out) or 403 (wrong role)."""
    allowed = roles or ROLES

    def deco(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            p = current()
            if p is None:
                if request.method == "GET":
                    return redirect(url_for("console.login", next=request.full_path))
                abort(401)
            if p.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


def require_association(association_id: int, han: str | None = None) -> None:
    p = current()
    if p is None or not p.sees_association(association_id) or (han is not None and not p.sees_han(association_id, han)):
        abort(403)


# -- words -------------------------------------------------------------------------------------

def console_locale() -> str:
    p = current() if "console" in session else None
    loc = session.get("console_locale") or (p.locale if p else None) or request.args.get("lang") or "ja"
    return loc if loc in CONSOLE_LOCALES else "ja"


def cN_(msgid: str) -> str:
    """Mark a console msgid where it is defined; translate it later with `ct`."""
    return msgid


ROLE_NAMES = {StaffRole.STAFF: cN_("Center staff"), StaffRole.LEADER: cN_("Association leader"), StaffRole.HAN_LEADER: cN_("Block leader")}


def ct(msgid: str, /, **named: Any) -> str:
    text = translations_for(console_locale(), "console").gettext(msgid)
    return text.format(**named) if named else text


# -- the audit log -----------------------------------------------------------------------------

def audit(s, action: str, target: str | None = None, **detail: Any) -> None:
    p = current()
    s.add(AuditEntry(actor=p.actor if p else "anonymous", action=action, target=target, detail=detail))


def apply(s, outcome: services.Outcome) -> services.Outcome:
    """Queue a service's notices and record its audit entries as the signed-in person."""
    p = current()
    return services.apply(s, outcome, p.actor if p else "anonymous")


def nav() -> list[tuple[str, str]]:
    """(endpoint, label) of the pages the signed-in person may open."""
    p = current()
    if p is None:
        return []
    items = [("console.dashboard", ct("Dashboard"))]
    for endpoint, label, roles in NAV:
        if p.role in roles and endpoint in current_app.view_functions:
            items.append((endpoint, ct(label)))
    return items


# (endpoint, label msgid, roles) in the menu; pages register themselves below
NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("console.safety_checks", cN_("Safety checks"), ROLES),
    ("console.shelters_page", cN_("Shelters"), (StaffRole.STAFF,)),
    ("console.announcements", cN_("Announcements"), (StaffRole.STAFF,)),
    ("console.circulars", cN_("Circulars"), ROLES),
    ("console.circular_roster", cN_("Households and block leaders"), (StaffRole.STAFF, StaffRole.LEADER)),
    ("console.events", cN_("Events"), (StaffRole.STAFF, StaffRole.LEADER)),
    ("console.aid", cN_("Mutual aid"), (StaffRole.STAFF,)),
    ("console.residents", cN_("Residents"), (StaffRole.STAFF, StaffRole.LEADER)),
    ("console.dead_letters", cN_("Failed messages"), (StaffRole.STAFF,)),
    ("console.audit_log", cN_("Audit log"), (StaffRole.STAFF,)),
    ("console.accounts", cN_("Accounts"), (StaffRole.STAFF,)),
]


# Console POSTs anyone may send (signing in and out, the language); all others need a session.
PUBLIC_POSTS = {"console.login_post", "console.link_post", "console.logout", "console.language"}
PUBLIC_FORM_LIMIT = 64 * 1024
# The forms that may carry a photo (up to photos.REQUEST_LIMIT); any other is held to the app's 1 MB.
PHOTO_FORMS = {"console.announcement_preview", "console.circular_new"}


def init_app(app) -> None:
    # late: every page module imports bp, require, ct … from this package
    from bot.console import (  # noqa: F401  (each module adds its pages to the blueprint)
        accounts, aid, announcements, audit_pages, auth, circular_compose, circulars, dashboard, events,
        outbox_pages, photos, pictures, residents, safety, shelters,
    )
    @app.before_request
    def _console_gate():
        # Before anything reads a form (CSRF included): a change by someone not signed in is
        # refused unread, and a body may be large only where a signed-in person attaches a photo.
        if not request.path.startswith("/console/") or request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        if request.endpoint in PUBLIC_POSTS:
            request.max_content_length = PUBLIC_FORM_LIMIT
            return None
        if current() is None:
            abort(401)
        if request.endpoint in PHOTO_FORMS and request.mimetype == "multipart/form-data":
            request.max_content_length = photos.REQUEST_LIMIT  # the app's 1 MB is for the rest
        return None

    @app.errorhandler(413)
    def _console_too_large(exc):
        # A console form past that limit (a photo far too large) is not read at all: say why.
        if not request.path.startswith("/console/"):
            return exc
        return render_template("console/too_large.html", mb=photos.megabytes(MAX_UPLOAD_BYTES)), 413

    csrf = CSRFProtect()
    csrf.init_app(app)
    # Signed by LINE / the local demo chat's JSON API / the circular page, whose address is its
    # key (no cookie to ride on; see bot.web.circular_page).
    for name in ("webhook", "webchat", "circular_page"):
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])
    app.register_blueprint(bp)
    app.jinja_env.globals.update(ct=ct, console_nav=nav, console_user=current, console_locales=CONSOLE_LOCALES,
                                 console_locale=console_locale, role_names=ROLE_NAMES)


TEMPLATES = Path(ROOT / "bot" / "templates" / "console")
