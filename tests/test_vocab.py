"""The named vocabularies (`bot.core.vocab`): every value fits the column that stores it, no value is
given twice, and no status, role, kind, channel, question or audience is compared with a bare
string again (the source is read, not run)."""
from __future__ import annotations

import ast
import inspect
from enum import StrEnum
from pathlib import Path

import pytest
from sqlalchemy import String

from bot.core import models, vocab

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("bot", "handlers", "conversations", "scheduler")

# Each vocabulary kept in the database, and the columns that hold it.
COLUMNS = {
    vocab.Channel: [models.Resident.channel, models.OutboxMessage.channel],
    vocab.Role: [models.Membership.role],
    vocab.SafetyStatus: [models.SafetyAnswer.status],
    vocab.ReadPer: [models.Association.read_per],
    vocab.InboundKind: [models.InboundEvent.event_type],
    vocab.InboxStatus: [models.InboundEvent.status],
    vocab.OutboxStatus: [models.OutboxMessage.status],
    vocab.OutboxKind: [models.OutboxMessage.kind],
    vocab.SendMethod: [models.AnnouncementRun.method],
    vocab.ChatDirection: [models.WebChatMessage.direction],
    vocab.RequestStatus: [models.HelpRequest.status],
    vocab.OfferStatus: [models.HelpOffer.status],
    vocab.ReportTarget: [models.Report.target_kind],
    vocab.HelperDays: [models.HelperProfile.days],
    vocab.HelperTimes: [models.HelperProfile.times],
    vocab.LedgerKind: [models.LedgerAccount.kind],
    vocab.RecordedBy: [models.LedgerTransfer.recorded_by],
    vocab.EventStatus: [models.Event.status],
    vocab.Audience: [models.Event.audience],
    vocab.SignupStatus: [models.Signup.status],
    vocab.CircularQuestion: [models.Circular.question],
    vocab.AnnouncementStatus: [models.Announcement.status],
    vocab.RunStatus: [models.AnnouncementRun.status],
    vocab.StaffRole: [models.StaffAccount.role],
    vocab.MenuKind: [models.RichMenu.kind],
    vocab.MenuState: [models.SafetyCheck.menu_state],
}
# Vocabularies with no column of their own: inside a JSON text, or only in memory.
NOT_IN_A_COLUMN = {vocab.RuleKind, vocab.PrincipalKind, vocab.SupportKind,  # SupportKind: in SupportNeed.needs (JSON)
                   vocab.JmaReportKind}  # in SafetyCheck.event / PreparedCheck.event (JSON)

# Attributes (and columns) that hold a vocabulary: never compared with a bare string.
ATTRIBUTES = {"status", "role", "kind", "channel", "question", "audience",
              "target_kind", "read_per", "recorded_by", "direction", "event_type"}
SQL_IN = {"in_", "not_in", "notin_"}
JSON_BODIES = {"jsonify"}  # keyword arguments there are the fields of an HTTP API's answer


def vocabularies() -> list[type[StrEnum]]:
    return [obj for _, obj in inspect.getmembers(vocab, inspect.isclass)
            if issubclass(obj, StrEnum) and obj is not StrEnum and obj.__module__ == vocab.__name__]


def test_every_vocabulary_is_accounted_for():
    assert set(vocabularies()) == set(COLUMNS) | NOT_IN_A_COLUMN
    for enum in vocabularies():
        assert enum.__doc__ and "\n" not in enum.__doc__.strip(), f"{enum.__name__}: a one-line docstring"


@pytest.mark.parametrize("enum", sorted(COLUMNS, key=lambda e: e.__name__), ids=lambda e: e.__name__)
def test_values_fit_their_columns(enum):
    for attr in COLUMNS[enum]:
        column = attr.property.columns[0]
        assert isinstance(column.type, String) and column.type.length, f"{column} is not a String(n)"
        too_long = [m.value for m in enum if len(m.value) > column.type.length]
        assert not too_long, f"{column} is String({column.type.length}): {too_long} do not fit"
        default = column.default.arg if column.default is not None and column.default.is_scalar else None
        assert default is None or default in enum.__members__.values(), f"{column}'s default {default!r}"


@pytest.mark.parametrize("enum", vocabularies(), ids=lambda e: e.__name__)
def test_values_are_unique_and_spelled_as_named(enum):
    values = [m.value for m in enum.__members__.values()]  # aliases included: a value given twice shows
    assert len(values) == len(set(values)), f"{enum.__name__} gives a value twice: {values}"
    for name, member in enum.__members__.items():
        assert member.value == name.lower(), f"{enum.__name__}.{name} is {member.value!r}"


# -- no bare strings ---------------------------------------------------------------------------

def _vocab_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES


def _strings(node: ast.AST) -> list[str]:
    """The bare string literals `node` is, or holds (a tuple, list or set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def bare_strings(source: str) -> list[tuple[int, str]]:
    """(line, code) of each comparison of a vocabulary attribute with a bare string: `x.status ==
    "open"`, `x.role in ("leader", …)`, `X.status.in_(["pending"])`; and of each such string given
    to one (`x.kind = "push"`, `f(status="sent")`, `.values(status="dead")`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        hit = False
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            hit = any(_vocab_attribute(a) for a in operands) and any(_strings(b) for b in operands)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in SQL_IN and _vocab_attribute(func.value):
                hit = any(_strings(a) for a in node.args)
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            hit = hit or (name not in JSON_BODIES and any(k.arg in ATTRIBUTES and _strings(k.value) for k in node.keywords))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for target in targets:
                pairs = zip(target.elts, values) if isinstance(target, ast.Tuple) else [(target, node.value)]
                hit = hit or any(_vocab_attribute(t) and v is not None and _strings(v) for t, v in pairs)
        if hit:
            found.append((node.lineno, ast.get_source_segment(source, node) or ""))
    return sorted(found)


def test_the_scan_finds_bare_strings():
    src = "\n".join([
        'a.status == "open"', 'x = "leader" != m.role', 'r.kind in ("push", "broadcast")',
        'q = X.status.in_(["pending"])', 'u = update(T).values(status="dead")', 'o.channel = "web"',
        'o.status, o.at = "closed", now', 'f(kind="push")',
        # not these: a member, a variable, a dict key, another attribute
        'a.status == RequestStatus.OPEN', 'a.status == wanted', 'd["status"] == "x"', 'a.state == "open"',
        'jsonify(status="ok")',
    ])
    assert [line for line, _ in bare_strings(src)] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_no_vocabulary_is_compared_with_a_bare_string():
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT)
            found += [f"{rel}:{line}: {code}" for line, code in bare_strings(path.read_text(encoding="utf-8"))]
    assert not found, ("compare with the members of bot.core.vocab (e.g. RequestStatus.OPEN), not bare strings:\n"
                       + "\n".join(found))
