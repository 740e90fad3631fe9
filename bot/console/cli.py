"""`flask --app bot staff …`: console accounts."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.cli import demo
from bot.console import passwords
from bot.console.auth import end_sessions, hash_password
from bot.core.areas import find_association_by_code
from bot.core.models import StaffAccount
from bot.core.vocab import StaffRole
from bot.wiring import current_bot

staff_cli = AppGroup("staff", help="Console accounts for center staff and association leaders.")


@staff_cli.command("create")
@click.argument("username")
@click.option("--name", "display_name", help="the name shown in the console (default: the user name)")
@click.option("--role", type=click.Choice([e.value for e in StaffRole]), default=StaffRole.STAFF.value, show_default=True)
@click.option("--association", "code", help="join code (for leaders and 班長)")
@click.option("--han", help="the 班 (for 班長)")
@click.option("--locale", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
@click.password_option(help="asked for if not given (at least 10 characters, not a common one)")
def create(username, display_name, role, code, han, locale, password):
    """Create a console account."""
    if passwords.english(password, username):
        raise click.BadParameter(passwords.english(password, username), param_hint="--password")
    with current_bot().db.session() as s:
        assoc = find_association_by_code(s, code) if code else None
        if role != StaffRole.STAFF and assoc is None:
            raise click.BadParameter("leaders and 班長 need --association JOIN-CODE")
        if role == StaffRole.HAN_LEADER and not han:
            raise click.BadParameter("a 班長 needs --han")
        if s.scalar(select(StaffAccount.id).where(StaffAccount.username == username)):
            raise click.BadParameter(f"{username} exists already")
        s.add(StaffAccount(username=username, display_name=display_name or username, password_hash=hash_password(password),
                           role=role, association_id=assoc.id if assoc else None, han=han, locale=locale))
    click.echo(f"account {username} ({role}) created")


@staff_cli.command("list")
def list_cmd():
    """The accounts (no passwords)."""
    with current_bot().db.read() as s:
        for a in s.scalars(select(StaffAccount).order_by(StaffAccount.username)):
            state = "active" if a.active else "disabled"
            click.echo(f"{a.username}\t{a.role}\t{a.association_id or '-'}\t{a.han or '-'}\t{state}")


@staff_cli.command("password")
@click.argument("username")
@click.option("--password", help="the new password (asked for if neither this nor --generate is given)")
@click.option("--generate", is_flag=True, help="make a strong password and print it")
def password_cmd(username, password, generate):
    """Set a new password (and unlock the account); its console sessions end. A demo account's
    password is also kept in instance/demo-accounts.json, where `demo seed` prints it from."""
    if password is not None and generate:
        raise click.UsageError("give --password or --generate, not both")
    if generate:
        password = demo.new_password(username)
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if passwords.english(password, username):
        raise click.BadParameter(passwords.english(password, username), param_hint="--password")
    with current_bot().db.session() as s:
        acct = s.scalar(select(StaffAccount).where(StaffAccount.username == username))
        if acct is None:
            raise click.ClickException(f"no account {username}")
        acct.password_hash, acct.failed_logins, acct.locked_until = hash_password(password), 0, None
        end_sessions(acct)
    kept = demo.remember_password(current_app.instance_path, username, password)
    click.echo(f"password of {username} changed" + (f": {password}" if generate else "")
               + (f" (and kept in {demo.accounts_file(current_app.instance_path)})" if kept else ""))


@staff_cli.command("disable")
@click.argument("username")
def disable(username):
    """Stop an account from signing in (its sessions end at once)."""
    with current_bot().db.session() as s:
        acct = s.scalar(select(StaffAccount).where(StaffAccount.username == username))
        if acct is None:
            raise click.ClickException(f"no account {username}")
        acct.active = False
        end_sessions(acct)
    click.echo(f"{username} disabled")
