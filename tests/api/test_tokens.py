"""API tokens: issued once, stored as hashes, revoked, refused for disabled accounts; the CLI."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from fer.accounts import AccountStore, AuditLog, UserNotFoundError
from fer.accounts.tokens import (
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    InvalidTokenError,
    TokenStore,
)
from fer.cli import main
from fer.cli.serve import is_loopback, service_token_from
from tests.api.helpers import PASSWORD

pytestmark = pytest.mark.usefixtures("cheap_password_hashes")


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setattr("fer.cli.database_options.os_account_name", lambda: "tester")
    location = str(tmp_path / "sessions.db")
    accounts = AccountStore(location)
    accounts.add_user("dr.lee", "clinician", PASSWORD)
    accounts.add_user("ada", "admin", PASSWORD)
    return location


def test_only_the_hash_is_stored_and_the_token_verifies(database):
    tokens = TokenStore(database)
    record, token = tokens.issue("dr.lee", "health record")
    assert len(token) >= 43 and record.user.name == "dr.lee" and record.name == "health record"
    with tokens.engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("SELECT token_hash FROM api_tokens")).all()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]
    verified = tokens.verify(token)
    assert verified.id == record.id and verified.user.role == "clinician"
    assert verified.last_used_at is not None
    other_record, other = tokens.issue("dr.lee", "second")
    assert other != token and tokens.verify(other).id == other_record.id


@pytest.mark.parametrize("token", ["", "nope", "x" * 1000, None, 42])
def test_unknown_and_malformed_tokens_are_invalid(database, token):
    TokenStore(database).issue("dr.lee", "t")
    with pytest.raises(InvalidTokenError):
        TokenStore(database).verify(token)


def test_revoked_and_disabled_are_invalid_and_listed(database):
    tokens = TokenStore(database)
    first, first_token = tokens.issue("dr.lee", "one")
    _, second_token = tokens.issue("dr.lee", "two")
    assert tokens.revoke(first.id).revoked_at is not None
    assert tokens.revoke(first.id).revoked_at is not None  # twice changes nothing
    with pytest.raises(InvalidTokenError):
        tokens.verify(first_token)
    assert tokens.verify(second_token).name == "two"
    AccountStore(database).disable_user("dr.lee")
    with pytest.raises(InvalidTokenError):
        tokens.verify(second_token)
    listed = tokens.list_tokens("dr.lee")
    assert [(t.name, t.revoked_at is not None) for t in listed] == [("one", True), ("two", False)]
    with pytest.raises(ValueError, match="disabled"):
        tokens.issue("dr.lee", "three")


def test_issue_and_revoke_check_names_and_ids(database):
    tokens = TokenStore(database)
    with pytest.raises(UserNotFoundError):
        tokens.issue("nobody", "t")
    with pytest.raises(ValueError, match="name"):
        tokens.issue("dr.lee", "  ")
    record, _ = tokens.issue("ada", "t")
    with pytest.raises(ValueError, match="No API token"):
        tokens.revoke(record.id, "dr.lee")  # not dr.lee's
    with pytest.raises(ValueError):
        tokens.revoke(0)


def test_last_used_is_written_at_most_once_a_minute(database):
    tokens = TokenStore(database)
    _, token = tokens.issue("dr.lee", "t")
    now = datetime.now(UTC)
    first = tokens.verify(token, now=now)
    assert tokens.verify(token, now=now + timedelta(seconds=5)).id == first.id
    (stored,) = [t.last_used_at for t in tokens.list_tokens("dr.lee")]
    assert stored == now
    tokens.verify(token, now=now + timedelta(minutes=2))
    assert tokens.list_tokens("dr.lee")[0].last_used_at == now + timedelta(minutes=2)


def test_service_tokens_belong_to_no_account(database):
    tokens = TokenStore(database)
    record, token = tokens.issue(None, "health record system")
    assert record.user is None and tokens.verify(token).user is None


def test_cli_prints_a_token_once_lists_and_revokes(database, capsys):
    assert main(["users", "token", "dr.lee", "--label", "ehr", "--database", database]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert "shown only now" in err and len(token) >= 43
    record = TokenStore(database).verify(token)
    assert main(["users", "token", "dr.lee", "--list", "--database", database]) == 0
    listing = capsys.readouterr().out
    assert "ehr" in listing and "active" in listing and token not in listing
    assert main(["users", "token", "dr.lee", "--revoke", str(record.id),
                 "--database", database]) == 0
    assert f"revoked API token {record.id}" in capsys.readouterr().out
    with pytest.raises(InvalidTokenError):
        TokenStore(database).verify(token)
    assert main(["users", "token", "ada", "--revoke", str(record.id),
                 "--database", database]) == 2
    assert main(["users", "token", "nobody", "--database", database]) == 2
    actions = AuditLog(database).entries()[["actor", "action"]].values.tolist()
    assert ["cli:tester", "issue_api_token"] in actions
    assert ["cli:tester", "revoke_api_token"] in actions
    assert token not in AuditLog(database).export_csv()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("127.0.0.2", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
     ("example.org", False)],
)
def test_which_hosts_are_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_serve_refuses_a_remote_host_without_allow_remote(database, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--database", database]) == 2
    err = capsys.readouterr().err
    assert "--allow-remote" in err and "TLS" in err


def test_serve_refuses_a_short_service_token_and_an_unknown_model(database, monkeypatch, capsys):
    monkeypatch.setenv("FER_API_TOKEN", "short")
    assert main(["serve", "--database", database]) == 2
    assert "at least 32 characters" in capsys.readouterr().err
    monkeypatch.delenv("FER_API_TOKEN")
    assert main(["serve", "--database", database, "--model", "no-such-model"]) == 2


GOOD_SERVICE_TOKEN = "Ab3-_.~+/" + "x" * 30 + "=="


@pytest.mark.parametrize("around", ["{}", "{}\r", "{}\n", "{}\r\n", "  {}\t", "\n{} "])
def test_the_service_token_is_read_without_surrounding_whitespace(around):
    token = service_token_from({"FER_API_TOKEN": around.format(GOOD_SERVICE_TOKEN)})
    assert token == GOOD_SERVICE_TOKEN


@pytest.mark.parametrize("value", [None, "", "  ", "\r\n"])
def test_an_unset_or_blank_service_token_means_none(value):
    environ = {} if value is None else {"FER_API_TOKEN": value}
    assert service_token_from(environ) is None


@pytest.mark.parametrize(
    "token",
    ["a" * 20 + " " + "b" * 20, "a" * 20 + "\r" + "b" * 20, "a" * 20 + "=" + "b" * 20,
     "a" * 20 + "é" + "b" * 20, "a" * 20 + "," + "b" * 20, '"' + "a" * 40 + '"'],
)
def test_serve_refuses_a_service_token_no_header_can_carry(database, monkeypatch, capsys, token):
    monkeypatch.setenv("FER_API_TOKEN", token)
    assert main(["serve", "--database", database]) == 2
    err = capsys.readouterr().err
    assert "$FER_API_TOKEN may hold only letters, digits" in err
    assert token not in err and "a" * 20 not in err  # named, never shown


def test_the_stripped_service_token_opens_the_api(database):
    from fer.api.auth import Authenticator

    authenticator = Authenticator(TokenStore(database), service_token_from(
        {"FER_API_TOKEN": GOOD_SERVICE_TOKEN + "\r\n"}
    ))
    principal = authenticator.authenticate(f"Bearer {GOOD_SERVICE_TOKEN}")
    assert principal is not None and principal.is_service


# ------------------------------------------------------------------------------------ expiry


def test_a_token_expires_after_its_lifetime(database):
    tokens = TokenStore(database)
    record, token = tokens.issue("dr.lee", "ehr", lifetime=timedelta(days=30))
    assert record.expires_at == record.created_at + timedelta(days=30)
    assert tokens.verify(token, now=record.expires_at - timedelta(seconds=1)).id == record.id
    with pytest.raises(InvalidTokenError):
        tokens.verify(token, now=record.expires_at)
    default, _ = tokens.issue("dr.lee", "default")
    assert default.expires_at - default.created_at == DEFAULT_TOKEN_LIFETIME
    forever, forever_token = tokens.issue("dr.lee", "until revoked", lifetime=None)
    assert forever.expires_at is None
    assert tokens.verify(forever_token, now=datetime.now(UTC) + timedelta(days=5000))
    assert [item.expires_at for item in tokens.list_tokens("dr.lee")] == [
        record.expires_at, default.expires_at, None
    ]


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(days=-1), timedelta(days=3651), 30])
def test_a_lifetime_out_of_range_issues_nothing(database, lifetime):
    tokens = TokenStore(database)
    with pytest.raises(ValueError, match="lifetime"):
        tokens.issue("dr.lee", "ehr", lifetime=lifetime)
    assert tokens.list_tokens() == []


def test_cli_issues_expiring_tokens_and_lists_their_state(database, capsys):
    from fer.cli.users import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS

    assert timedelta(days=DEFAULT_TOKEN_DAYS) == DEFAULT_TOKEN_LIFETIME
    assert timedelta(days=MAX_TOKEN_DAYS) == MAX_TOKEN_LIFETIME
    assert main(["users", "token", "dr.lee", "--days", "90", "--database", database]) == 0
    out, err = capsys.readouterr()
    record = TokenStore(database).verify(out.strip())
    assert record.expires_at - record.created_at == timedelta(days=90)
    assert f"valid until {record.expires_at:%Y-%m-%d %H:%M} UTC" in err
    assert main(["users", "token", "dr.lee", "--no-expiry", "--database", database]) == 0
    assert "it does not expire" in capsys.readouterr().err
    for days in ("0", "3651", "-5"):
        assert main(["users", "token", "dr.lee", "--days", days, "--database", database]) == 2
        assert "--days must be from 1 to 3650" in capsys.readouterr().err
    assert len(TokenStore(database).list_tokens()) == 2
    assert main(["users", "token", "dr.lee", "--list", "--database", database]) == 0
    listing = capsys.readouterr().out
    assert f"active until {record.expires_at:%Y-%m-%d}" in listing
    assert "active, no expiry" in listing
    details = AuditLog(database).entries()["detail"].tolist()
    assert f"api token {record.id}; expires {record.expires_at:%Y-%m-%d}" in details


def test_an_expired_token_gets_401_from_the_api(database):
    from fastapi.testclient import TestClient

    from fer.api import create_app

    tokens = TokenStore(database)
    record, token = tokens.issue("dr.lee", "ehr", lifetime=timedelta(days=1))
    with tokens.engine.begin() as connection:  # a day has passed
        connection.execute(
            sqlalchemy.text("UPDATE api_tokens SET expires_at = :past WHERE id = :id"),
            {"past": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(), "id": record.id},
        )
    with TestClient(create_app(database)) as client:
        response = client.get("/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
