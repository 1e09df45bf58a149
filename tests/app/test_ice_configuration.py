"""The ICE transport policy from the environment: ``relay`` sends the browser through TURN."""

import pytest

from ui.live import rtc_configuration

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
