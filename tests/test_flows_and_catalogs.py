"""Every flow table is sound, and every string a resident can see is in the catalogs."""
from __future__ import annotations

import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import conversations
import handlers
from bot.core.i18n import SUPPORTED_LOCALES, keywords, t
from conversations.engine import Flow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import i18n as catalog_tool  # noqa: E402


def template_ids() -> set[str]:
    with (ROOT / "locales" / "messages.pot").open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


FLOWS = sorted(conversations.registry().values(), key=lambda f: f.name)


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_flow_table_is_sound(flow: Flow):
    assert flow.first in flow.steps
    for name, step in flow.steps.items():
        for target in step.next_steps():
            assert target is None or target in flow.steps, f"{flow.name}.{name} -> {target}"
    # an end is reachable from the first step, and every step is reachable
    seen, queue, ends = {flow.first}, deque([flow.first]), False
    while queue:
        for target in flow.steps[queue.popleft()].next_steps():
            if target is None:
                ends = True
            elif target not in seen:
                seen.add(target)
                queue.append(target)
    assert ends, f"{flow.name} never ends"
    assert seen == set(flow.steps), f"{flow.name}: unreachable steps {set(flow.steps) - seen}"


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_every_prompt_and_label_is_translated(flow: Flow):
    ids = template_ids()
    for name, step in flow.steps.items():
        msgids = [step.date_label]
        if isinstance(step.ask, str):
            msgids.append(step.ask)
        if not callable(step.options):
            msgids += [o.label for o in step.options if not o.literal]
        for msgid in msgids:
            assert msgid in ids, f"{flow.name}.{name}: {msgid!r} is not in the catalog template"
            for loc in SUPPORTED_LOCALES:
                assert t(loc, msgid), f"{loc} lacks {msgid!r}"
    assert flow.name in conversations.registry()


def test_catalogs_are_complete_with_matching_placeholders():
    assert catalog_tool.problems() == []


def test_catalog_template_is_up_to_date_with_the_code(tmp_path):
    out = tmp_path / "fresh.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_", "-k", "Nn_:1,2",
         "--no-default-keywords", "-o", str(out), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with out.open("rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    assert fresh == template_ids(), "run: python scripts/i18n.py update"


def test_japanese_is_really_japanese():
    # a cheap guard against an English msgstr slipping into ja
    assert t("ja", "Settings") == "設定"
    assert t("ja", "Cancel") == "やめる"
    assert t("en", "Cancel") == "Cancel"


def test_global_words_work_in_every_language_whatever_the_setting():
    for word in ("やめる", "キャンセル", "cancel", "stop"):
        assert word in keywords("cancel|stop|quit")
    assert {"メニュー", "menu"} <= keywords("menu")
    assert {"ヘルプ", "help"} <= keywords("help|how to use")


def test_routes_are_unique_and_in_the_documented_order():
    names = [r.name for r in handlers.ROUTES]
    handlers.check_routes()
    assert names.index("cancel") < names.index("conversation") < names.index("feature_button") < names.index("feature_word")
    assert names[-1] == "text"
    with pytest.raises(RuntimeError):
        handlers.check_routes(handlers.ROUTES + (handlers.ROUTES[0],))


def test_console_catalog_template_is_up_to_date_and_complete(tmp_path):
    out = tmp_path / "console.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel_console.cfg", "-k", "ct", "-k", "cN_",
         "--no-default-keywords", "-o", str(out), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with out.open("rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    with (ROOT / "locales" / "console.pot").open("rb") as fh:
        assert fresh == {m.id for m in read_po(fh) if m.id}, "run: python scripts/i18n.py update"
    assert catalog_tool.console_problems() == []
