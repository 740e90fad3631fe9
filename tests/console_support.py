"""Helpers for console tests: sign in with a CSRF token taken from the page, as a browser does.
The fixtures `console_app` (https PUBLIC_BASE_URL, the demo city) and `accounts` (staff
"tanaka", leader "asahi" of ASAHI-2026) are in conftest.py."""
from __future__ import annotations

import re

PASSWORD = "correct horse battery"


def csrf(client, path: str = "/console/login") -> str:
    """The CSRF token of the form on `path` (any console page has one)."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": csrf(client)})
