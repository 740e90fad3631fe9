def test_onboarding_through_signed_webhooks(line, fake_line, db):
    user = "U" + "1" * 32
    fake_line.profiles[user] = {"displayName": "Hanako", "language": "ja"}
    line.follow(user)
    assert "つながりへようこそ" in line.last_text(user)
    assert fake_line.quick_labels(user)[:3] == ["日本語", "やさしい日本語", "English"]
