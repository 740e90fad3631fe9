"""What a console password may be: 10 to 200 characters, and not one of the passwords tried
first by anyone guessing — the most common ones (with digits or signs around them), the user
name, one character over and over, or a run along the alphabet, the digits or the keyboard.

`problem()` gives the reason as a console msgid and its values (the console translates it with
`ct`, the command line shows the English)."""
from __future__ import annotations

import re

from bot.console import cN_

MIN_LENGTH = 10
MAX_LENGTH = 200
MIN_DISTINCT = 4  # "abababababab" is not a password

# The most common passwords in the published breach lists (lowercase, digits and signs at
# either end taken off before comparing), and a few words anyone would try here first.
COMMON = frozenset("""
password passwort passw0rd p@ssword p@ssw0rd pass pass word qwerty qwertyuiop qwertz azerty asdfgh
asdfghjkl zxcvbnm qazwsx qweasd qweasdzxc abc abcd abcdef abcdefg iloveyou letmein welcome admin
administrator root master monkey dragon football baseball soccer hockey sunshine princess shadow
superman batman trustno trustnoone starwars whatever freedom hello hellokitty charlie michael
jennifer jordan hunter ranger buster thomas tigger robert daniel andrew pokemon naruto computer
internet secret changeme default login guest test tester testing user staff console center centre
japan tokyo osaka nippon sakura doraemon pikachu tsunagari linebot line kanri kanrisha chounaikai
jichikai gomi kairanban summer winter spring autumn flower lovely loveme mylove iloveu
""".split())
SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm",
             "qwertzuiop", "azertyuiop", "1qaz2wsx3edc4rfv5tgb", "zaq1xsw2cde3vfr4bgt5")
_ENDS = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def _sequence(text: str) -> bool:
    """A run along the alphabet, the digits or a keyboard row (either way, wrapping around),
    or a steady step of character codes ("acegikmoqs", "9876543210")."""
    for seq in SEQUENCES:
        for s in (seq, seq[::-1]):
            if text in s * 3:
                return True
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:])}
    return len(steps) == 1


def _repeated(text: str) -> bool:
    """A short piece over and over ("abcabcabcabc", "12341234")."""
    n = len(text)
    return any(n % k == 0 and text[:k] * (n // k) == text for k in range(1, n // 2 + 1))


def problem(password: str, username: str | None = None) -> tuple[str, dict] | None:
    """Why `password` will not do, as (console msgid, values), or None when it will."""
    if len(password) < MIN_LENGTH:
        return cN_("The password needs at least {n} characters."), {"n": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return cN_("The password may have at most {n} characters."), {"n": MAX_LENGTH}
    low = password.lower()
    compact = re.sub(r"\s+", "", low)
    if username and len(username) >= 3 and username.lower() in low:
        return cN_("The password must not contain the user name."), {}
    if len(set(compact)) < MIN_DISTINCT or _repeated(compact) or _sequence(compact):
        return cN_("The password is too simple: the same characters over and over, or a run such as "
                   "“abcdef” or “123456”."), {}
    core = _ENDS.sub("", compact)
    if not core or core in COMMON or compact in COMMON or _repeated(core):
        return cN_("This password is among the first ones anyone would try. Choose another (a few unrelated "
                   "words make a good one)."), {}
    return None


def english(password: str, username: str | None = None) -> str | None:
    """`problem()` in English, for the command line."""
    found = problem(password, username)
    return found[0].format(**found[1]) if found else None
