"""ICE servers from the environment: STUN/TURN servers, fixed or short-lived TURN credentials,
and the transport policy (``relay`` sends the browser through TURN)."""

import base64
import hashlib
import hmac

import pytest

from ui.ice_servers import rtc_configuration

TURN = {
    "FER_TURN_URL": "turn:127.0.0.1:3478", "FER_TURN_USERNAME": "u", "FER_TURN_CREDENTIAL": "c",
}
RELAY = {"FER_ICE_TRANSPORT_POLICY": "relay"}


def test_relay_policy_reaches_the_browser_configuration():
    config = rtc_configuration({**TURN, **RELAY})
    assert config["iceTransportPolicy"] == "relay"
    assert config["iceServers"] == [
        {"urls": ["turn:127.0.0.1:3478"], "username": "u", "credential": "c"}
    ]


def test_the_default_policy_adds_nothing():
    assert "iceTransportPolicy" not in rtc_configuration(TURN)
    assert "iceTransportPolicy" not in rtc_configuration(
        {**TURN, "FER_ICE_TRANSPORT_POLICY": "all"}
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({**TURN, "FER_ICE_TRANSPORT_POLICY": "direct"}, "must be one of"),
        (RELAY, "needs a TURN server"),
        (
            {"FER_ICE_SERVERS": '[{"urls": "stun:s.example.org"}]', **RELAY},
            "needs a TURN server",
        ),
    ],
)
def test_a_policy_that_cannot_work_is_refused(environ, message):
    with pytest.raises(ValueError, match=message):
        rtc_configuration(environ)



def test_default_rtc_configuration_stays_offline():
    assert rtc_configuration({}) == {"iceServers": []}


def test_rtc_configuration_reads_ice_servers_and_turn():
    environ = {
        "FER_ICE_SERVERS": '[{"urls": "stun:stun.example.org:3478"}]',
        "FER_TURN_URL": "turn:turn.example.org:3478?transport=tcp",
        "FER_TURN_USERNAME": "clinic",
        "FER_TURN_CREDENTIAL": "secret",
    }
    assert rtc_configuration(environ) == {
        "iceServers": [
            {"urls": ["stun:stun.example.org:3478"]},
            {
                "urls": ["turn:turn.example.org:3478?transport=tcp"],
                "username": "clinic",
                "credential": "secret",
            },
        ]
    }
    wrapped = {"FER_ICE_SERVERS": '{"iceServers": [{"urls": ["turns:t.example.org"]}]}'}
    assert rtc_configuration(wrapped) == {"iceServers": [{"urls": ["turns:t.example.org"]}]}


@pytest.mark.parametrize(
    "environ",
    [
        {"FER_ICE_SERVERS": "{"},
        {"FER_ICE_SERVERS": '{"urls": "stun:x"}'},
        {"FER_ICE_SERVERS": '[{"urls": "http://x"}]'},
        {"FER_ICE_SERVERS": '[{"url": "stun:x"}]'},
        {"FER_TURN_URL": "turn:x", "FER_TURN_USERNAME": "only-name"},
        {"FER_TURN_USERNAME": "u", "FER_TURN_CREDENTIAL": "c"},
    ],
)
def test_malformed_rtc_configuration_is_refused(environ):
    with pytest.raises(ValueError, match="FER_"):
        rtc_configuration(environ)


# ------------------------------------------------------------------ short-lived TURN credentials

SECRET = {"FER_TURN_URL": "turns:turn.example.org:5349", "FER_TURN_SECRET": "s3cret"}
NOW = 1_800_000_123.0


def turn_entry(environ, now=NOW) -> dict:
    (server,) = rtc_configuration(environ, now=now)["iceServers"]
    return server


def test_a_turn_secret_gives_coturns_time_limited_credential():
    server = turn_entry(SECRET)
    expiry, label = server["username"].split(":")
    # Four hours by default, rounded up to the next ten minutes.
    assert int(expiry) % 600 == 0 and 0 <= int(expiry) - (NOW + 4 * 3600) < 600
    assert label == "fer"
    expected = hmac.new(b"s3cret", server["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(server["credential"]) == expected
    assert "s3cret" not in str(server)


def test_the_credential_changes_with_time_and_secret_but_not_within_ten_minutes():
    first = turn_entry(SECRET)
    assert turn_entry(SECRET, now=NOW + 60) == first  # page reruns: the same arguments
    assert turn_entry(SECRET, now=NOW + 3600)["username"] != first["username"]
    other = turn_entry({**SECRET, "FER_TURN_SECRET": "other"})
    assert other["username"] == first["username"] and other["credential"] != first["credential"]


def test_the_lifetime_is_read_from_the_environment():
    server = turn_entry({**SECRET, "FER_TURN_TTL_MIN": "30"})
    assert 0 <= int(server["username"].split(":")[0]) - (NOW + 1800) < 600


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({**SECRET, "FER_TURN_USERNAME": "u", "FER_TURN_CREDENTIAL": "c"}, "not both"),
        ({"FER_TURN_SECRET": "s3cret"}, "FER_TURN_URL is not"),
        ({**SECRET, "FER_TURN_TTL_MIN": "5"}, "FER_TURN_TTL_MIN"),
        ({**SECRET, "FER_TURN_TTL_MIN": "inf"}, "FER_TURN_TTL_MIN"),
        ({**SECRET, "FER_TURN_TTL_MIN": "2000"}, "FER_TURN_TTL_MIN"),
    ],
)
def test_a_secret_that_cannot_work_is_refused(environ, message):
    with pytest.raises(ValueError, match=message):
        rtc_configuration(environ, now=NOW)
