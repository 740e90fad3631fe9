"""Machine translation (issue 18, item 3): the DeepL and Google clients against fake providers on
loopback (tests/fake_translate.py), the cache, the refusal to start half-configured, and what
residents read through the real webhook path: marked, with the original one tap away; nothing
sent anywhere when the city has not turned it on."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.core import translate
from bot.core.areas import load_city
from bot.core.config import Config
from bot.core.db import utcnow
from bot.core.models import Association, HelpRequest, MachineTranslation, Membership, Resident
from bot.services import aid_messages
from scheduler import clock as clock_mod
from tests.conftest import ROOT, make_config
from tests.fake_translate import FakeTranslator
from tests.support import run_worker
from tests.test_mutual_aid import bubble_text, bubbles, card_buttons, last_flex, press

ASKER = "U" + "a7" * 16
HELPER = "U" + "b7" * 16
SECRET_WORDS = "燃えるごみを出してほしいです"


@pytest.fixture(scope="session")
def deepl_server():
    fake = FakeTranslator("deepl").start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def google_server():
    fake = FakeTranslator("google", key="test-google-key").start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_deepl(deepl_server):
    deepl_server.reset()
    return deepl_server


@pytest.fixture
def fake_google(google_server):
    google_server.reset()
    return google_server


# Long enough for a loaded CI machine to answer on loopback (0.5 s once was not); the test of a
# timeout sets its own, shorter than the fake's stall.
TIMEOUT = 5.0


def mt_config(fake: FakeTranslator, timeout: float = TIMEOUT, **more) -> Config:
    return Config(mt_provider=fake.kind, mt_api_key=fake.key, mt_api_base_url=fake.url, mt_timeout_seconds=timeout,
                  **more)


@pytest.fixture
def mt(request):
    """The provider the app is built with ("" = machine translation off); parametrize indirectly."""
    return getattr(request, "param", "deepl")


@pytest.fixture
def app(app_factory, mt, fake_deepl, fake_google):
    """The app with machine translation through the fake provider; off (but pointed at the fake
    DeepL, to see that nothing reaches it) when `mt` is ""."""
    fake = fake_google if mt == "google" else fake_deepl
    overrides = dict(mt_api_base_url=fake.url, mt_timeout_seconds=TIMEOUT)
    if mt:
        overrides.update(mt_provider=mt, mt_api_key=fake.key)
    app = app_factory(**overrides)
    with app.extensions["tsunagari"].db.session() as s:
        load_city(s, ROOT / "data" / "cities" / "demo.json")
    return app


# -- the clients, straight against the fakes ------------------------------------------------------

def test_deepl_speaks_the_documented_format(fake_deepl):
    client = translate.from_config(mt_config(fake_deepl))
    assert isinstance(client, translate.DeepL)
    assert client.translate(["こんにちは", "ありがとう"], "en", "ja") == ["[EN-US] こんにちは", "[EN-US] ありがとう"]
    got = fake_deepl.requests[-1]
    assert got.path == "/v2/translate"
    assert got.headers["Authorization"] == f"DeepL-Auth-Key {fake_deepl.key}"
    assert got.body == {"text": ["こんにちは", "ありがとう"], "target_lang": "EN-US", "source_lang": "JA"}
    # the provider detects the language when none is given
    assert client.translate(["Hello"], "pt_BR", None) == ["[PT-BR] Hello"]
    assert fake_deepl.requests[-1].body == {"text": ["Hello"], "target_lang": "PT-BR"}
    assert client.translate(["你好"], "ja", "zh_Hans") == ["[JA] 你好"]
    assert fake_deepl.requests[-1].body["source_lang"] == "ZH"


def test_google_speaks_the_documented_format(fake_google):
    client = translate.from_config(mt_config(fake_google))
    assert isinstance(client, translate.Google)
    assert client.translate(["こんにちは"], "vi", "ja") == ["[vi] こんにちは"]
    got = fake_google.requests[-1]
    assert got.path == "/language/translate/v2"
    assert got.headers["X-goog-api-key"] == fake_google.key
    assert "Authorization" not in got.headers
    assert got.body == {"q": ["こんにちは"], "target": "vi", "source": "ja", "format": "text"}
    for locale, code in (("tl", "tl"), ("ne", "ne"), ("pt_BR", "pt"), ("zh_Hans", "zh-CN"), ("en", "en")):
        assert client.translate(["x"], locale, None) == [f"[{code}] x"]


def test_a_wrong_key_is_no_translation(fake_deepl):
    client = translate.DeepL("someone-elses-key", fake_deepl.url)
    assert client.translate(["こんにちは"], "en", "ja") is None


def test_languages_deepl_lacks_get_no_translation_and_nothing_is_sent(fake_deepl, fake_google):
    deepl = translate.from_config(mt_config(fake_deepl))
    for locale in ("vi", "tl", "ne"):
        assert not deepl.supports(locale)
        assert deepl.translate(["こんにちは"], locale, "ja") is None
    assert fake_deepl.requests == []
    google = translate.from_config(mt_config(fake_google))
    assert all(google.supports(loc) for loc in ("ja", "en", "vi", "tl", "pt_BR", "id", "ne", "ko", "zh_Hans"))


def test_default_hosts_follow_the_key():
    assert translate.default_base_url("deepl", "abc:fx") == "https://api-free.deepl.com"
    assert translate.default_base_url("deepl", "abc") == "https://api.deepl.com"
    assert translate.default_base_url("google", "abc") == "https://translation.googleapis.com"
    client = translate.from_config(Config(mt_provider="deepl", mt_api_key="k:fx"))
    assert client.base_url == "https://api-free.deepl.com"
    assert translate.from_config(Config()) is None


@pytest.mark.parametrize("status", [500, 429, 456, 403])
def test_errors_and_quota_replies_are_no_translation_and_the_text_is_never_logged(fake_deepl, status, caplog):
    client = translate.from_config(mt_config(fake_deepl))
    fake_deepl.fail_next(status)
    with caplog.at_level(logging.DEBUG):
        assert client.translate([SECRET_WORDS], "en", "ja") is None
    assert str(status) in caplog.text
    assert SECRET_WORDS not in caplog.text


def test_a_timeout_is_no_translation(fake_google, caplog):
    client = translate.from_config(mt_config(fake_google, timeout=fake_google.stall_seconds / 3))
    fake_google.stall_next()
    with caplog.at_level(logging.DEBUG):
        assert client.translate([SECRET_WORDS], "en", "ja") is None
    assert "no answer" in caplog.text and SECRET_WORDS not in caplog.text


# -- configuration ------------------------------------------------------------------------------

def test_the_environment_turns_it_on():
    cfg = Config.from_env({"MT_PROVIDER": "DeepL", "MT_API_KEY": "k:fx", "MT_API_BASE_URL": "http://127.0.0.1:9"})
    assert (cfg.mt_provider, cfg.mt_api_key, cfg.mt_api_base_url) == ("deepl", "k:fx", "http://127.0.0.1:9")
    assert Config.from_env({}).mt_provider == ""


@pytest.mark.parametrize("overrides, says", [
    (dict(mt_provider="deepl"), "MT_API_KEY is not set"),
    (dict(mt_provider="bing", mt_api_key="k"), "one of deepl, google"),
])
def test_half_configured_machine_translation_refuses_to_start(db_url, fake_line, overrides, says):
    with pytest.raises(translate.MisconfiguredTranslation, match=says):
        create_app(make_config(db_url, fake_line, **overrides))


# -- the cache ----------------------------------------------------------------------------------

def test_the_same_text_goes_to_the_provider_once_per_language(app, bot, db, fake_deepl):
    with db.session() as s:
        assert translate.translated(s, bot.config, ["お知らせ"], "en", "ja") == ["[EN-US] お知らせ"]
    with db.session() as s:
        assert translate.translated(s, bot.config, ["お知らせ"], "en", "ja") == ["[EN-US] お知らせ"]
        assert translate.translated(s, bot.config, ["お知らせ"], "ko", "ja") == ["[KO] お知らせ"]
    assert fake_deepl.texts == ["お知らせ", "お知らせ"]  # once for English, once for Korean
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MachineTranslation)) == 2
        # the cache keeps a digest of the source, not the source
        assert "お知らせ" not in " ".join(s.scalars(select(MachineTranslation.source_hash)))
        assert translate.forget(s, ["お知らせ"]) == 2


def test_a_failure_is_not_cached(app, bot, db, fake_deepl):
    fake_deepl.fail_next(429)
    with db.session() as s:
        assert translate.translated(s, bot.config, ["お知らせ"], "en", "ja") is None
    with db.session() as s:
        assert translate.translated(s, bot.config, ["お知らせ"], "en", "ja") == ["[EN-US] お知らせ"]
    assert len(fake_deepl.requests) == 2


# -- residents, through the webhooks ---------------------------------------------------------------

def ask_in_japanese(line, fake_line, text=SECRET_WORDS):
    line.say(ASKER, "お願い")
    line.tap(ASKER, "ゴミ出し")
    line.say(ASKER, text)
    line.tap(ASKER, "いつでも")
    line.tap(ASKER, fake_line.quick_labels(ASKER)[0])
    line.tap(ASKER, "知らせる")
    assert line.last_text(ASKER).startswith("お願いを出しました")


@pytest.fixture
def neighbours(joined, clock):
    joined(ASKER, name="Asako", locale_label="日本語")
    joined(HELPER, name="Hiro")


def test_a_japanese_request_reaches_an_english_helper_machine_translated_with_the_original_a_tap_away(
        line, fake_line, bot, db, fake_deepl, neighbours):
    ask_in_japanese(line, fake_line)
    line.say(HELPER, "offer help")
    carousel = last_flex(fake_line, HELPER)
    text = bubble_text(bubbles(carousel)[0])
    assert f"[EN-US] {SECRET_WORDS}" in text
    assert "(Machine translation. Tap “Original” to see the text as written.)" in text
    # the provider was asked to detect the language (a resident may write in any)
    assert fake_deepl.requests[-1].body == {"text": [SECRET_WORDS], "target_lang": "EN-US"}
    data = card_buttons(carousel)["Original"]
    assert SECRET_WORDS not in data and "a=mt" in data  # the button names the record, not the text
    press(line, HELPER, data)
    original = line.last_text(HELPER)
    assert SECRET_WORDS in original and "[EN-US]" not in original and original.startswith("As written:")
    # a second look asks the provider nothing more
    sent = len(fake_deepl.requests)
    line.say(HELPER, "offer help")
    assert f"[EN-US] {SECRET_WORDS}" in bubble_text(bubbles(last_flex(fake_line, HELPER))[0])
    assert len(fake_deepl.requests) == sent
    # the asker, in Japanese, reads her own words as written
    line.say(ASKER, "わたしのお願い")
    assert "[" not in bubble_text(bubbles(last_flex(fake_line, ASKER))[0])


def test_the_helpers_message_reaches_the_japanese_asker_translated(line, fake_line, bot, db, fake_deepl, neighbours):
    ask_in_japanese(line, fake_line)
    line.say(HELPER, "offer help")
    press(line, HELPER, card_buttons(last_flex(fake_line, HELPER))["I can help"])
    line.say(HELPER, "I can come at 9")
    run_worker(bot)
    offer = last_flex(fake_line, ASKER)
    assert "[JA] I can come at 9" in bubble_text(bubbles(offer)[0])
    assert "（機械翻訳です。「原文」を押すと、書かれたままの文が見られます。）" in bubble_text(bubbles(offer)[0])
    press(line, ASKER, card_buttons(offer)["原文"])
    assert line.last_text(ASKER) == "原文：\nI can come at 9"
    # matched: what the helper writes through the bot reaches her translated too
    press(line, ASKER, card_buttons(offer)["お願いする"])
    run_worker(bot)
    press(line, HELPER, card_buttons(last_flex(fake_line, HELPER))["Message Asako"])
    line.say(HELPER, "See you at the corner")
    run_worker(bot)
    relayed = last_flex(fake_line, ASKER)
    assert "[JA] See you at the corner" in bubble_text(bubbles(relayed)[0])
    press(line, ASKER, card_buttons(relayed)["原文"])
    assert line.last_text(ASKER) == "原文：\nSee you at the corner"


def test_a_carousel_of_requests_asks_the_provider_once(line, fake_line, bot, db, fake_deepl, neighbours):
    ask_in_japanese(line, fake_line, "犬の散歩をお願いします")
    ask_in_japanese(line, fake_line, "買い物を手伝ってください")
    fake_deepl.reset()
    line.say(HELPER, "offer help")
    assert len(fake_deepl.requests) == 1
    assert sorted(fake_deepl.texts) == sorted(["犬の散歩をお願いします", "買い物を手伝ってください"])
    texts = [bubble_text(b) for b in bubbles(last_flex(fake_line, HELPER))]
    assert any("[EN-US] 犬の散歩をお願いします" in x for x in texts) and any("[EN-US] 買い物を手伝ってください" in x for x in texts)


def test_an_original_button_of_someone_elses_text_shows_nothing(line, fake_line, bot, db, fake_deepl, neighbours, joined):
    ask_in_japanese(line, fake_line)
    line.say(HELPER, "offer help")
    press(line, HELPER, card_buttons(last_flex(fake_line, HELPER))["I can help"])
    line.say(HELPER, "I can come at 9")
    run_worker(bot)
    data = next(d for label, d in card_buttons(last_flex(fake_line, ASKER)).items() if "x=orig" in d)
    stranger = joined("U" + "c7" * 16, name="Sam")
    press(line, stranger, data)  # the offer was made to the asker, not to them
    assert "I can come at 9" not in " ".join(fake_line.texts_to(stranger))


@pytest.mark.parametrize("mt", [""], indirect=True)
def test_off_nothing_reaches_the_provider_and_residents_read_as_before(line, fake_line, bot, db, fake_deepl, neighbours):
    ask_in_japanese(line, fake_line)
    line.say(HELPER, "offer help")
    carousel = last_flex(fake_line, HELPER)
    text = bubble_text(bubbles(carousel)[0])
    assert SECRET_WORDS in text and "Machine translation" not in text and "Not translated" not in text
    assert "Original" not in card_buttons(carousel)
    assert fake_deepl.requests == []


@pytest.mark.parametrize("mt", ["google"], indirect=True)
def test_an_announcement_with_no_english_version_is_machine_translated(runner, line, bot, db, fake_line, fake_google, joined, clock):
    en = joined("U" + "e7" * 16, name="Emma")
    en2 = joined("U" + "e8" * 16, name="Liam")
    ja = joined("U" + "a8" * 16, name="花子", locale_label="日本語")
    easy = joined("U" + "a9" * 16, name="ゆき", locale_label="やさしい日本語")
    result = runner.invoke(args=["announce", "--text", "年末年始のごみ収集のお知らせです。"])
    assert result.exit_code == 0, result.output
    assert clock_mod.due_now(bot)["announcements"] == 1
    run_worker(bot)
    for user in (en, en2):
        msg = [m for m in fake_line.messages_to(user) if m["type"] == "text"][-1]
        assert "[en] 年末年始のごみ収集のお知らせです。" in msg["text"]
        assert "(Machine translation." in msg["text"]
        assert "Original" in [i["action"]["label"] for i in msg["quickReply"]["items"]]
    assert fake_line.texts_to(ja)[-1] == "年末年始のごみ収集のお知らせです。"
    # やさしい日本語 is never machine translated: the Japanese, as before
    assert "年末年始のごみ収集のお知らせです。" in fake_line.texts_to(easy)[-1] and "[" not in fake_line.texts_to(easy)[-1]
    assert fake_google.texts == ["年末年始のごみ収集のお知らせです。"]  # once, for both English readers
    line.tap(en, "Original")
    assert line.last_text(en).endswith("年末年始のごみ収集のお知らせです。")
    # typed instead of tapped, by the other English reader (the announcement went to both in one multicast)
    line.say(en2, "original")
    assert line.last_text(en2).endswith("年末年始のごみ収集のお知らせです。")
    # nothing translated was sent to 花子: nothing to show
    line.say(ja, "原文")
    assert "翻訳" in line.last_text(ja) and "年末年始" not in line.last_text(ja)


@pytest.mark.parametrize("mt", ["deepl"], indirect=True)
def test_a_language_the_provider_lacks_reads_the_original_marked(line, fake_line, bot, db, fake_deepl, joined, clock):
    joined(ASKER, name="Asako", locale_label="日本語")
    helper = joined("U" + "f7" * 16, name="Lan", locale_label="Tiếng Việt")
    ask_in_japanese(line, fake_line)
    with db.session() as s:
        req = s.scalar(select(HelpRequest))
        reader = s.scalar(select(Resident).where(Resident.line_user_id == helper))
        card = aid_messages.request_card(req, reader.locale, bot.config)
    assert SECRET_WORDS in card.body and "[" not in card.body
    assert all("x=orig" not in b.data for b in card.buttons)
    assert fake_deepl.requests == []


def test_housekeeping_forgets_old_translations(app, bot, db, fake_deepl, clock):
    with db.session() as s:
        translate.translated(s, bot.config, ["お知らせ"], "en", "ja")
    with db.session() as s:
        assert translate.expire(s, utcnow() + timedelta(days=translate.CACHE_DAYS - 1)) == 0
        assert translate.expire(s, utcnow() + timedelta(days=translate.CACHE_DAYS + 1)) == 1


def test_an_event_without_an_english_version_is_machine_translated(runner, line, bot, fake_line, fake_deepl, joined, clock):
    en = joined("U" + "e9" * 16, name="Emma")
    result = runner.invoke(args=["events", "create", "--title", "餅つき大会", "--place", "公民館", "--starts", "2026-12-20 10:00"])
    assert result.exit_code == 0, result.output
    line.say(en, "events")
    bubble = bubbles(last_flex(fake_line, en))[0]
    assert "[EN-US] 餅つき大会" in bubble_text(bubble) and "Where: [EN-US] 公民館" in bubble_text(bubble)
    assert "(Machine translation." in bubble_text(bubble)
    assert fake_deepl.requests[-1].body == {"text": ["餅つき大会", "公民館"], "target_lang": "EN-US", "source_lang": "JA"}
    press(line, en, card_buttons(last_flex(fake_line, en))["Original"])
    assert "餅つき大会" in line.last_text(en) and "[EN-US]" not in line.last_text(en)


def test_a_circular_without_an_english_version_is_machine_translated_for_its_members_only(
        runner, line, bot, db, fake_line, fake_deepl, joined, clock):
    member = joined("U" + "e6" * 16, name="Emma")
    outsider = joined("U" + "e5" * 16, name="Olly")
    with db.session() as s:
        assoc = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        me = s.scalar(select(Resident).where(Resident.line_user_id == member))
        s.add(Membership(resident_id=me.id, association_id=assoc.id, role="member"))
    result = runner.invoke(args=["circulars", "send", "--association", "ASAHI-2026", "--title", "清掃のお知らせ",
                                 "--body", "公園を清掃します。"])
    assert result.exit_code == 0, result.output
    run_worker(bot)
    notice = last_flex(fake_line, member)
    assert "[EN-US] 清掃のお知らせ" in json.dumps(notice, ensure_ascii=False)
    assert "(Machine translation." in bubble_text(bubbles(notice)[0])
    data = card_buttons(notice)["Original"]
    press(line, member, card_buttons(notice)["Read it all"])
    assert any("[EN-US] 公園を清掃します。" in x for x in fake_line.texts_to(member))
    press(line, member, data)
    assert "公園を清掃します。" in line.last_text(member) and "[EN-US]" not in line.last_text(member)
    press(line, outsider, data)  # not theirs: not shown
    assert not any("公園を清掃します。" in x for x in fake_line.texts_to(outsider))


def test_leaving_forgets_the_translations_of_ones_own_words(line, fake_line, bot, db, fake_deepl, neighbours):
    ask_in_japanese(line, fake_line)
    line.say(HELPER, "offer help")
    press(line, HELPER, card_buttons(last_flex(fake_line, HELPER))["I can help"])
    line.say(HELPER, "I can come at 9")
    run_worker(bot)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MachineTranslation)) == 2  # the request, the offer's message
    line.say(HELPER, "delete my data")
    line.tap(HELPER, "Yes, delete")
    with db.session() as s:
        assert s.scalar(select(Resident).where(Resident.line_user_id == HELPER)) is None
        left = list(s.scalars(select(MachineTranslation.text)))
    assert left == [f"[EN-US] {SECRET_WORDS}"]  # the asker's words stay (hers, and still open)


@pytest.mark.parametrize("mt, says", [("deepl", True), ("google", True), ("", False)], indirect=["mt"])
def test_the_privacy_notice_names_the_provider_only_when_it_is_on(line, fake_line, mt, says, clock):
    user = "U" + "d8" * 16
    fake_line.profiles[user] = {"displayName": "Dana", "language": "en"}
    line.follow(user)
    line.tap(user, "English")
    line.say(user, "Minato-machi")
    line.tap(user, "Skip")
    line.say(user, "Dana")
    notice = line.last_text(user)
    assert notice.startswith("Last step: privacy.") and notice.endswith("Do you agree?")
    name = {"deepl": "DeepL", "google": "Google Cloud Translation"}.get(mt, "DeepL")
    assert (f"sent to {name} to be machine translated" in notice) is says
    assert "machine translat" not in notice.lower() or says
