"""Safe by default on the web (issue 15, part A): the secret key in production, the client's
address behind proxies, sign-in delays without a lock or a tell, sessions kept on the server,
the security headers of every kind of page, and the smaller doors (`next`, passwords, uploads
before sign-in)."""
from __future__ import annotations

import io
import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import create_app
from bot.core.config import Config
from bot.core.models import AuditEntry, Association, Circular, CircularRecipient, ConsoleLink, Membership, Resident, StaffAccount
from tests.console_support import PASSWORD, csrf, sign_in
from tests.test_authorization_matrix import console_world  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def _signed_in(c) -> bool:
    r = c.get("/console/")
    assert r.status_code in (200, 302), r.status_code
    return r.status_code == 200


def _copy_cookie(src, app):
    """Another browser with a copy of `src`'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", src.get_cookie("session").value)
    return other


def _flash(resp) -> str:
    return re.search(r'<p class="flash error"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)


def _add_accounts(app, *names: str) -> None:
    runner = app.test_cli_runner()
    for name in names:
        result = runner.invoke(args=["staff", "create", name, "--role", "staff", "--password", PASSWORD])
        assert result.exit_code == 0, result.output


# -- 1. the secret key ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", [None, "dev-only-not-secret", "short-key", "a" * 48, "…(a long random string: python -c …)",
                                 "change-me-to-a-long-random-value"])
@pytest.mark.parametrize("production", ["line", "https"])
def test_production_refuses_to_start_without_a_strong_secret_key(production, key, tmp_path):
    from bot.security import InsecureConfiguration

    cfg = Config(database_url=f"sqlite:///{tmp_path / 'x.db'}", secret_key=key,
                 **({"line_channel_secret": "s", "line_channel_access_token": "t"} if production == "line"
                    else {"public_base_url": "https://tsunagari.example.jp"}))
    with pytest.raises(InsecureConfiguration) as refused:
        create_app(cfg)
    message = str(refused.value)
    assert "FLASK_SECRET_KEY" in message and GENERATE in message
    assert ("LINE channel" if production == "line" else "https") in message
    app = create_app(cfg.with_overrides(secret_key=secrets.token_urlsafe(48)))  # a strong one: it starts
    app.extensions["tsunagari"].db.dispose()


def _flask(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("LINE_", "FLASK_", "DATABASE_URL", "PUBLIC_BASE_URL", "WEBCHAT"))}
    base.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite:///{cwd / 'bot.core.db'}", **env)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "bot", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command, env", [
    (["worker", "--once"], {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}),
    (["clock"], {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "FLASK_SECRET_KEY": "dev-only-not-secret"}),
    (["clock"], {"PUBLIC_BASE_URL": "https://tsunagari.example.jp", "FLASK_SECRET_KEY": "k"}),
])
def test_the_worker_and_the_clock_refuse_to_start_too(command, env, tmp_path):
    done = _flask(command, env, tmp_path)
    assert done.returncode != 0
    assert "Refusing to start" in done.stderr and "FLASK_SECRET_KEY" in done.stderr and GENERATE in done.stderr


def test_development_keeps_a_random_key_of_its_own_in_the_instance_folder(tmp_path, db_url):
    from bot import security
    cfg = Config(database_url=db_url)  # no LINE channel, no https: the local web chat
    assert not cfg.production
    first = security.secret_key(cfg, str(tmp_path))
    assert security.key_weakness(first) is None and first != "dev-only-not-secret"
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert security.secret_key(cfg, str(tmp_path)) == first  # a restart keeps it (and the sessions)
    assert security.secret_key(cfg, str(tmp_path / "another")) != first  # random, not a constant
    # The app: its key is the instance folder's, and sessions survive a restart.
    app = create_app(cfg)
    kept = Path(app.instance_path) / "secret_key"
    assert app.secret_key == kept.read_text().strip() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    _add_accounts(app, "devstaff")
    c = app.test_client()
    assert sign_in(c, "devstaff").status_code == 302
    again = create_app(cfg)
    assert _signed_in(_copy_cookie(c, again))
    for a in (app, again):
        a.extensions["tsunagari"].db.dispose()


def test_the_key_in_development_may_still_be_set(tmp_path, db_url):
    from bot import security
    assert security.secret_key(Config(database_url=db_url, secret_key="mine"), str(tmp_path)) == "mine"
    assert not (tmp_path / "secret_key").exists()


def test_trusted_proxies_comes_from_the_environment():
    assert Config.from_env({}).trusted_proxies == 0
    assert Config.from_env({"TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    assert Config.from_env({"LINE_CHANNEL_ACCESS_TOKEN": "t"}).production
    assert Config.from_env({"PUBLIC_BASE_URL": "https://x.example.jp"}).production
    assert not Config.from_env({"PUBLIC_BASE_URL": "http://localhost:8000"}).production


# -- 3. the client's address ---------------------------------------------------------------------

def test_a_made_up_x_forwarded_for_does_not_escape_the_address_limit(accounts):
    c = accounts.test_client()
    for n in range(20):
        r = c.post("/console/login", data={"username": f"nobody{n}", "password": "x", "csrf_token": csrf(c)},
                   headers={"X-Forwarded-For": f"198.51.100.{n}"})
        assert r.status_code == 401
    r = c.post("/console/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": csrf(c)},
               headers={"X-Forwarded-For": "203.0.113.250"})
    assert r.status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_counts(app_factory):
    app = app_factory(public_base_url="https://tsunagari.example.jp", trusted_proxies=1)
    _add_accounts(app, "tanaka")
    c = app.test_client()
    for n in range(20):  # the client makes up the left part; the proxy appends the address it saw
        r = c.post("/console/login", data={"username": f"nobody{n}", "password": "x", "csrf_token": csrf(c)},
                   headers={"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.7"})
        assert r.status_code == 401
    spoofed = c.post("/console/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": csrf(c)},
                     headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.7"})
    assert spoofed.status_code == 429
    other = app.test_client()  # another client behind the same proxy is not held back
    r = other.post("/console/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": csrf(other)},
                   headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status_code == 302


# -- 4. delays, not a lock, and one answer ------------------------------------------------------

def test_wrong_password_unknown_user_and_an_account_that_must_wait_get_the_same_answer(accounts, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    c = accounts.test_client()
    unknown = sign_in(c, "nobody-at-all", "some password")
    wrong = sign_in(c, "asahi", "some password")
    for _ in range(4):
        sign_in(c, "asahi", "some password")
    waiting = sign_in(c, "asahi")  # the right password, while the account must wait
    assert unknown.status_code == wrong.status_code == waiting.status_code == 401
    assert _flash(unknown) == _flash(wrong) == _flash(waiting)
    assert not _signed_in(c)


def test_the_wait_grows_is_capped_at_a_minute_and_a_success_starts_again(accounts, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    c = accounts.test_client()
    for n in range(12):  # each wrong password after the previous wait is over
        assert sign_in(c, "asahi", "guess").status_code == 401
        time_machine.shift(61)
    assert sign_in(c, "asahi", "guess").status_code == 401
    time_machine.shift(30)
    assert sign_in(c, "asahi").status_code == 401  # still waiting: the wait grew to a minute …
    time_machine.shift(31)
    assert sign_in(c, "asahi").status_code == 302  # … and no longer (not the old 15-minute lock)
    # A success starts again: one more mistake does not make anyone wait.
    fresh = accounts.test_client()
    assert sign_in(fresh, "asahi", "typo").status_code == 401
    assert sign_in(fresh, "asahi").status_code == 302


def test_the_first_waits_are_short(accounts, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    c = accounts.test_client()
    for _ in range(3):
        assert sign_in(c, "asahi", "guess").status_code == 401
    assert sign_in(c, "asahi").status_code == 401
    time_machine.shift(1)
    assert sign_in(c, "asahi").status_code == 302  # a second later


# -- 5. sessions on the server ---------------------------------------------------------------------

def test_a_copied_cookie_does_not_work_after_signing_out(accounts):
    c = accounts.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    copy = _copy_cookie(c, accounts)
    assert _signed_in(copy)
    assert c.post("/console/logout", data={"csrf_token": csrf(c, "/console/")}).status_code == 302
    assert not _signed_in(c) and not _signed_in(copy)
    r = copy.post("/console/accounts", data={"csrf_token": csrf(copy), "username": "intruder"})
    assert r.status_code == 401
    with accounts.extensions["tsunagari"].db.read() as s:
        tanaka = s.scalar(select(StaffAccount.id).where(StaffAccount.username == "tanaka"))
        actors = dict(s.execute(select(AuditEntry.action, AuditEntry.actor)
                                .where(AuditEntry.action.in_(["sign_in", "sign_out"]))).all())
    assert actors == {"sign_in": f"staff:{tanaka}", "sign_out": f"staff:{tanaka}"}


def test_a_copied_cookie_does_not_work_after_a_new_password_or_disabling(accounts):
    staff, victim = accounts.test_client(), accounts.test_client()
    assert sign_in(staff, "tanaka").status_code == 302 and sign_in(victim, "asahi").status_code == 302
    copy = _copy_cookie(victim, accounts)
    with accounts.extensions["tsunagari"].db.read() as s:
        asahi = s.scalar(select(StaffAccount.id).where(StaffAccount.username == "asahi"))
    r = staff.post(f"/console/accounts/{asahi}/password",
                   data={"password": "an entirely new phrase", "csrf_token": csrf(staff, "/console/accounts")})
    assert r.status_code == 302
    assert not _signed_in(copy) and not _signed_in(victim)
    assert sign_in(victim, "asahi", "an entirely new phrase").status_code == 302
    copy = _copy_cookie(victim, accounts)
    assert accounts.test_cli_runner().invoke(args=["staff", "disable", "asahi"]).exit_code == 0
    staff.post(f"/console/accounts/{asahi}/active", data={"active": "1", "csrf_token": csrf(staff, "/console/accounts")})
    assert not _signed_in(copy)


def _leader(app) -> int:
    """A resident who leads あさひ町内会 (signs in with the one-time link)."""
    from bot.core.db import utcnow

    with app.extensions["tsunagari"].db.session() as s:
        asahi = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        r = Resident(line_user_id="U" + "5e" * 16, channel="line", nickname="会長さん", locale="ja", following=True,
                     consent_at=utcnow())
        s.add(r)
        s.flush()
        s.add(Membership(resident_id=r.id, association_id=asahi.id, role="leader"))
        return r.id


def _link(app, resident_id: int) -> str:
    from bot.console.auth import make_link

    with app.extensions["tsunagari"].db.session() as s:
        return make_link(s, s.get(Resident, resident_id), None)


def _use_link(c, url: str):
    page = c.get(url)
    if page.status_code != 200:
        return page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return c.post(url, data={"csrf_token": token})


def test_a_new_one_time_link_voids_the_older_unused_ones(console_app):
    rid = _leader(console_app)
    older, newer = _link(console_app, rid), _link(console_app, rid)
    assert console_app.test_client().get(older).status_code == 410
    assert _use_link(console_app.test_client(), older).status_code == 410
    c = console_app.test_client()
    assert _use_link(c, newer).status_code == 302 and _signed_in(c)
    with console_app.extensions["tsunagari"].db.read() as s:
        assert s.scalar(select(ConsoleLink.used_at).where(ConsoleLink.resident_id == rid)) is not None


def test_a_leaders_link_session_signs_out_and_ends_with_the_role(console_app):
    rid = _leader(console_app)
    c = console_app.test_client()
    assert _use_link(c, _link(console_app, rid)).status_code == 302 and _signed_in(c)
    copy = _copy_cookie(c, console_app)
    assert c.post("/console/logout", data={"csrf_token": csrf(c, "/console/")}).status_code == 302
    assert not _signed_in(copy)  # a link session can be ended by signing out
    # The role taken away (from the command line) and given back: the session stays ended.
    assert _use_link(c, _link(console_app, rid)).status_code == 302 and _signed_in(c)
    with console_app.extensions["tsunagari"].db.read() as s:
        member = s.scalar(select(Membership.id).where(Membership.resident_id == rid))
    runner = console_app.test_cli_runner()
    for role in ("member", "leader"):
        result = runner.invoke(args=["circulars", "role", "--association", "ASAHI-2026", "--member", str(member), role])
        assert result.exit_code == 0, result.output
    assert not _signed_in(c)


# -- 6. headers -----------------------------------------------------------------------------------

def _csp(resp) -> dict[str, str]:
    return {d.split()[0]: d.partition(" ")[2] for d in resp.headers["Content-Security-Policy"].split("; ")}


def _assert_safe_headers(resp, *, no_store: bool):
    csp = _csp(resp)
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] in ("no-referrer", "strict-origin")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    if no_store:
        assert resp.headers["Cache-Control"] == "no-store"
    return csp


def _assert_inline_code_carries_the_nonce(resp):
    """Every inline <script> and <style> of the page runs under its CSP: it has the response's nonce."""
    html = resp.get_data(as_text=True)
    csp = _csp(resp)
    found = re.search(r"'nonce-([^']+)'", csp["script-src"])
    nonce = found.group(1) if found else None
    assert nonce is None or f"'nonce-{nonce}'" in csp["style-src"]
    inline = [tag for tag in re.findall(r"<(?:script|style)\b[^>]*>", html) if "src=" not in tag]
    for tag in inline:
        assert nonce and f'nonce="{nonce}"' in tag, tag
    assert not re.search(r"<[^>]+\sstyle=", html) and not re.search(r"<[^>]+\son[a-z]+=", html)


def test_console_pages_have_the_security_headers(accounts):
    c = accounts.test_client()
    _assert_safe_headers(c.get("/console/login"), no_store=True)
    assert sign_in(c, "tanaka").status_code == 302
    for path in ("/console/", "/console/announcements/new", "/console/circulars/new", "/console/accounts"):
        page = c.get(path)
        assert page.status_code == 200, path
        _assert_safe_headers(page, no_store=True)
        _assert_inline_code_carries_the_nonce(page)
    assert "Strict-Transport-Security" not in c.get("/console/").headers  # plain http: no HSTS


@pytest.mark.parametrize("role", ["staff", "leader"])
def test_every_console_page_has_the_headers_and_its_inline_code_the_nonce(role, console_world):
    """Every console page a staff member or a leader opens: no inline code the policy would block."""
    from tests.test_authorization_matrix import CONSOLE_MATRIX, _client, _url

    app, ids = console_world
    c = _client(app, role)
    seen = 0
    for endpoint, (method, allowed) in CONSOLE_MATRIX.items():
        if method != "GET" or role not in allowed:
            continue
        r = c.get(_url(app, endpoint, ids))
        assert r.status_code in (200, 400), (endpoint, r.status_code)  # (the count needs its query)
        _assert_safe_headers(r, no_store=True)
        if r.mimetype == "text/html":
            _assert_inline_code_carries_the_nonce(r)
            seen += 1
    assert seen >= 10


def test_https_pages_get_hsts_and_a_forwarded_proto_only_from_a_trusted_proxy(app_factory):
    plain = app_factory(public_base_url="https://tsunagari.example.jp")
    assert "max-age=" in plain.test_client().get("/console/login", base_url="https://localhost") \
        .headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in plain.test_client().get(
        "/console/login", headers={"X-Forwarded-Proto": "https"}).headers
    proxied = app_factory(public_base_url="https://tsunagari.example.jp", trusted_proxies=1)
    r = proxied.test_client().get("/console/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"})
    assert "Strict-Transport-Security" in r.headers


def test_the_web_chat_has_the_security_headers_and_its_script_runs(console_app):
    c = console_app.test_client()
    page = c.get("/chat")
    assert page.status_code == 200
    csp = _assert_safe_headers(page, no_store=True)
    _assert_inline_code_carries_the_nonce(page)
    assert "'self'" in csp["script-src"] and "'self'" in csp["connect-src"]  # chat.js and its fetch()
    assert re.search(r'<script src="/chat/static/chat\.js"', page.get_data(as_text=True))
    api = c.get("/chat/api/messages?resident=demo-1&after=0")
    _assert_safe_headers(api, no_store=True)


def _circular_page_token(app) -> str:
    from bot.core.db import utcnow

    with app.extensions["tsunagari"].db.session() as s:
        asahi = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        r = Resident(line_user_id="U" + "6f" * 16, channel="line", nickname="読む人", locale="ja", following=True,
                     consent_at=utcnow())
        circ = Circular(association_id=asahi.id, title="お知らせ", body="本文", created_at=utcnow(), sent_at=utcnow())
        s.add_all([r, circ])
        s.flush()
        token = secrets.token_urlsafe(24)
        s.add(CircularRecipient(circular_id=circ.id, resident_id=r.id, token=token))
        return token


def test_circular_pages_have_the_security_headers(console_app):
    page = console_app.test_client().get(f"/c/{_circular_page_token(console_app)}")
    assert page.status_code == 200
    _assert_safe_headers(page, no_store=True)
    _assert_inline_code_carries_the_nonce(page)


def test_photos_are_private_and_kept_briefly(console_app):
    from PIL import Image

    from bot.core import media
    raw = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(raw, "PNG")
    with console_app.extensions["tsunagari"].db.session() as s:
        token = media.store(s, raw.getvalue()).token
    for path in (f"/m/{token}.jpg", f"/m/{token}/preview.jpg"):
        r = console_app.test_client().get(path)
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
        _assert_safe_headers(r, no_store=False)
        cache = r.headers["Cache-Control"]
        assert "private" in cache and "public" not in cache
        assert int(re.search(r"max-age=(\d+)", cache).group(1)) <= 3600


def test_no_template_or_script_would_be_blocked_by_the_policy():
    """Inline code only with the nonce, no style attributes or event handlers (CSP blocks
    them), and the web chat's script builds no inline code either."""
    for tpl in (ROOT / "bot" / "templates").rglob("*.html"):
        text = tpl.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", text):
            assert "src=" in tag or 'nonce="{{ csp_nonce() }}"' in tag, (tpl.name, tag)
        assert not re.search(r"\sstyle=", text), tpl.name
        assert not re.search(r"\son[a-z]+=", text), tpl.name
        assert "javascript:" not in text, tpl.name
    for js in (ROOT / "bot" / "static").glob("*.js"):
        code = js.read_text(encoding="utf-8")
        for banned in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                       '"style"', "'style'", "cssText"):
            assert banned not in code, (js.name, banned)


# -- 11. next, passwords, uploads before sign-in -------------------------------------------------

@pytest.mark.parametrize("nxt, lands", [
    ("/console/\r\nSet-Cookie: a=b", "/console/"),
    ("/console/\nx", "/console/"),
    ("//evil.example/console/", "/console/"),
    ("https://evil.example/console/", "/console/"),
    ("/\\evil.example", "/console/"),
    ("/console/events?x=1", "/console/events?x=1"),
])
def test_sign_in_goes_back_only_to_a_console_page_of_this_site(accounts, nxt, lands):
    c = accounts.test_client()
    r = c.post("/console/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": csrf(c), "next": nxt})
    assert r.status_code == 302 and r.location == lands
    r = c.post("/console/language", data={"locale": "en", "csrf_token": csrf(c, "/console/"), "back": nxt})
    assert r.status_code == 302 and r.location == lands


@pytest.mark.parametrize("password", ["password123", "Password2024!", "1234567890", "qwertyuiop", "aaaaaaaaaaaa",
                                      "abcabcabcabc", "newstaff-2026", "iloveyou12", "0987654321"])
def test_common_and_trivial_passwords_are_refused(accounts, password):
    c = accounts.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    r = c.post("/console/accounts", data={"username": "newstaff", "name": "New", "role": "staff", "locale": "ja",
                                          "password": password, "csrf_token": csrf(c, "/console/accounts")})
    assert r.status_code == 400
    result = accounts.test_cli_runner().invoke(args=["staff", "create", "newstaff", "--password", password])
    assert result.exit_code != 0
    with accounts.extensions["tsunagari"].db.read() as s:
        assert s.scalar(select(StaffAccount.id).where(StaffAccount.username == "newstaff")) is None
    if "newstaff" not in password:
        result = accounts.test_cli_runner().invoke(args=["staff", "password", "tanaka", "--password", password])
        assert result.exit_code != 0


def test_a_good_passphrase_is_taken(accounts):
    result = accounts.test_cli_runner().invoke(args=["staff", "create", "newstaff", "--password", "blue kettle on a hill"])
    assert result.exit_code == 0, result.output


class _Body(io.BytesIO):
    """A request body that remembers how much of it was read."""


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "tsunagariboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + b"\xff" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_an_anonymous_upload_is_refused_before_its_body_is_read(accounts):
    body, ctype = _multipart(3 * 1024 * 1024)
    for path in ("/console/announcements/new", "/console/circulars/new", "/console/events/new"):
        stream = _Body(body)
        r = accounts.test_client().post(path, input_stream=stream, content_type=ctype, content_length=len(body))
        assert r.status_code == 401, path
        assert stream.tell() == 0, f"{path}: {stream.tell()} bytes read before sign-in was checked"


def test_a_large_body_is_refused_where_no_photo_is_taken(accounts):
    c = accounts.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    token = csrf(c, "/console/")
    big = {"csrf_token": token, "title": "x", "photo": (io.BytesIO(b"\xff" * (2 * 1024 * 1024)), "a.jpg")}
    assert c.post("/console/events/new", data=big, content_type="multipart/form-data").status_code == 413
    # the public forms are small too
    anon = accounts.test_client()
    assert anon.post("/console/login", data={"csrf_token": csrf(anon), "username": "x" * (200 * 1024),
                                             "password": "y"}).status_code == 413
