"""WorkerSettings.from_env: deployment names, embedded defaults, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.settings import EMBEDDED_FRONTEND_URL, SettingsError, WorkerSettings


def test_without_broker_url_the_embedded_defaults_apply() -> None:
    settings = WorkerSettings.from_env({"DATABASE_URL": "postgresql://db/zc"})

    assert settings.embedded
    assert settings.frontend_url == EMBEDDED_FRONTEND_URL
    assert settings.redis_url is None
    assert settings.smtp_host is None
    assert settings.mail_outbox_dir == Path("var/outbox-mail")
    assert "embedded StubBroker" in settings.describe()


def test_the_deployment_names_are_read() -> None:
    settings = WorkerSettings.from_env(
        {
            "BROKER_URL": "amqp://rabbit/",
            "REDIS_URL": "redis://cache/3",
            "FRONTEND_URL": "https://zerocancer.africa/",
            "SMTP_HOST": "smtp.gmail.com",
            "SMTP_SECURE": "true",
            "SMTP_USER": "mailer@zerocancer.africa",
            "SMTP_PASS": "secret",
            "STORAGE_DIR": "/srv/files",
            "WAITLIST_MATCHING_INTERVAL_HOURS": "6",
            "SCHEDULE_MONTHLY_PAYOUTS_ENABLED": "false",
        }
    )

    assert not settings.embedded
    assert settings.frontend_url == "https://zerocancer.africa"
    assert (settings.smtp_port, settings.smtp_secure) == (465, True)
    assert settings.mail_from == "mailer@zerocancer.africa"
    assert settings.storage_dir == Path("/srv/files")
    assert settings.waitlist_matching_interval_hours == 6
    assert settings.schedule_monthly_payouts_enabled is False
    assert "secret" not in settings.describe()


def test_frontend_url_is_required_outside_embedded_mode() -> None:
    with pytest.raises(SettingsError, match="FRONTEND_URL"):
        WorkerSettings.from_env({"BROKER_URL": "amqp://rabbit/"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("SMTP_PORT", "smtp"), ("WAITLIST_MATCHING_INTERVAL_HOURS", "200"), ("SMTP_PORT", "0")],
)
def test_bad_numbers_are_refused_with_their_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        WorkerSettings.from_env({name: value})
