"""Who may call what: 401 without a valid token, 403 for a reviewer, 404 for another's session."""

from __future__ import annotations

import pytest

from fer.accounts import AccountStore, AuditLog
from fer.accounts.tokens import TokenStore

PROTECTED = [
    ("get", "/v1/sessions"),
    ("get", "/v1/sessions/1"),
    ("get", "/v1/sessions/1/frames"),
    ("get", "/v1/sessions/1/report"),
    ("delete", "/v1/sessions/1"),
    ("post", "/v1/analyze"),
    ("get", "/v1/no-such-endpoint"),
]


def test_health_needs_no_token(client):
    response = client.get("/v1/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "bearer a b",
     "Bearer " + "x" * 600],
)
def test_every_other_endpoint_answers_401_without_a_valid_token(
    client, method, path, authorization
):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.request(method, path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="fer"')
    assert response.json()["detail"].endswith(" Send Authorization: Bearer <token>.")


def test_an_unauthenticated_upload_is_refused_before_it_is_parsed(client):
    response = client.post("/v1/analyze", content=b"--broken multipart",
                           headers={"Content-Type": "multipart/form-data"})
    assert response.status_code == 401


def test_a_revoked_token_and_a_disabled_account_no_longer_work(client, world):
    assert client.get("/v1/sessions", headers=world.headers("dr.a")).status_code == 200
    tokens = TokenStore(world.database)
    (record,) = tokens.list_tokens("dr.a")
    tokens.revoke(record.id)
    assert client.get("/v1/sessions", headers=world.headers("dr.a")).status_code == 401
    assert client.get("/v1/sessions", headers=world.headers("dr.b")).status_code == 200
    AccountStore(world.database).disable_user("dr.b")
    assert client.get("/v1/sessions", headers=world.headers("dr.b")).status_code == 401


def test_failed_logins_stay_out_of_the_audit_log(client, world):
    client.get("/v1/sessions", headers={"Authorization": "Bearer guess"})
    assert AuditLog(world.database).entries().empty


def test_a_reviewer_gets_403_for_patient_data_and_the_refusal_is_audited(client, world):
    for path in ("/v1/sessions", f"/v1/sessions/{world.sessions['a']}",
                 f"/v1/sessions/{world.sessions['a']}/frames",
                 f"/v1/sessions/{world.sessions['a']}/report"):
        response = client.get(path, headers=world.headers("rev"))
        assert response.status_code == 403, path
        assert "reviewer" in response.json()["detail"]
    assert client.delete(
        f"/v1/sessions/{world.sessions['a']}", headers=world.headers("rev")
    ).status_code == 403
    entries = AuditLog(world.database).entries()
    assert set(entries["actor"]) == {"rev"} and set(entries["action"]) == {"access_denied"}


def ids(response) -> set[int]:
    assert response.status_code == 200
    return {session["id"] for session in response.json()["sessions"]}


def test_each_caller_lists_what_their_account_may_see(client, world):
    a, b, shared = world.sessions["a"], world.sessions["b"], world.sessions["shared_with_a"]
    assert ids(client.get("/v1/sessions", headers=world.headers("dr.a"))) == {a, shared}
    assert ids(client.get("/v1/sessions", headers=world.headers("dr.b"))) == {b, shared}
    assert ids(client.get("/v1/sessions", headers=world.headers("boss"))) == {a, b, shared}
    assert ids(client.get("/v1/sessions", headers=world.headers("service"))) == {a, b, shared}


def test_clinician_a_cannot_see_or_export_b_s_session(client, world):
    b = world.sessions["b"]
    for path in (f"/v1/sessions/{b}", f"/v1/sessions/{b}/frames?format=json",
                 f"/v1/sessions/{b}/report?format=html"):
        response = client.get(path, headers=world.headers("dr.a"))
        assert response.status_code == 404, path
        # The same answer as for a session that does not exist.
        missing = client.get(path.replace(f"/{b}", "/999"), headers=world.headers("dr.a"))
        assert missing.status_code == 404
        assert response.json()["detail"].replace(str(b), "N") == missing.json()[
            "detail"
        ].replace("999", "N")
    assert client.delete(f"/v1/sessions/{b}", headers=world.headers("dr.a")).status_code == 404
    assert client.get(f"/v1/sessions/{b}", headers=world.headers("dr.b")).status_code == 200


def test_the_list_names_no_client(client, world):
    response = client.get("/v1/sessions", headers=world.headers("boss"))
    assert "Client of" not in response.text
    assert {session["client_code"] for session in response.json()["sessions"]} == {
        "C-a", "C-b", "C-shared_with_a"
    }


def test_accesses_are_audited_under_the_account_or_api_service(client, world):
    a = world.sessions["a"]
    client.get(f"/v1/sessions/{a}", headers=world.headers("dr.a"))
    client.get(f"/v1/sessions/{a}/frames", headers=world.headers("service"))
    entries = AuditLog(world.database).entries()
    rows = list(zip(entries["actor"], entries["action"], entries["target"], strict=True))
    assert rows == [
        ("api:service", "export_session", f"session {a}"),
        ("dr.a", "view_session", f"session {a}"),
    ]
    assert list(entries["detail"])[0] == "frames csv; FER_API_TOKEN"
    assert list(entries["detail"])[1].startswith("api token ")


def test_a_service_token_issued_into_the_database_acts_as_the_service(client, world):
    _, token = TokenStore(world.database).issue(None, "health record system")
    response = client.get("/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert len(ids(response)) == 3
    assert AuditLog(world.database).entries()["actor"].tolist() == ["api:service"]


def test_the_openapi_document_is_public_and_declares_bearer_auth(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert set(spec["paths"]) == {
        "/v1/health", "/v1/analyze", "/v1/sessions", "/v1/sessions/{session_id}",
        "/v1/sessions/{session_id}/frames", "/v1/sessions/{session_id}/report",
    }
    assert "security" not in spec["paths"]["/v1/health"]["get"]
    assert client.get("/docs").status_code == 404  # no page that loads scripts from a CDN


def test_a_short_service_token_is_refused(world):
    from fer.api import create_app

    with pytest.raises(ValueError, match="at least 32 characters"):
        create_app(world.database, service_token="short")


def test_a_refused_path_cannot_write_a_line_of_its_own_into_the_log(client, caplog):
    forged = "INFO fer.api: accepted GET /v1/sessions for dr.lee"
    with caplog.at_level("WARNING", logger="fer.api"):
        response = client.get(f"/v1/x%0A{forged.replace(' ', '%20')}")
    assert response.status_code == 401
    lines = caplog.text.splitlines()
    assert any("refused GET" in line and "\\n" + forged in line for line in lines)
    assert not any(line.startswith(forged) for line in lines)


@pytest.mark.parametrize("separator", ["\t", " \t", "\t "])
def test_a_token_not_separated_by_spaces_is_refused_as_a_malformed_header(
    client, world, separator: str
):
    """RFC 9110 (11.4) and RFC 6750 (2.1) separate the scheme from the token by spaces only."""
    token = world.tokens["dr.a"]
    header = f"Bearer{separator}{token}"
    response = client.get("/v1/sessions", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["detail"].startswith(
        "The Authorization header is malformed: the scheme and the token must be separated by "
        "a space."
    )
    assert response.headers["www-authenticate"] == 'Bearer realm="fer", error="invalid_request"'
    spaced = client.get("/v1/sessions", headers={"Authorization": f"Bearer  {token}"})
    assert spaced.status_code == 200


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [("Bearer\x0btoken", "malformed"), ("bearer\xa0token", "malformed"),
     ("Bearer\t", "no token"), ("Bearer", "no token"), ("Basic\tdXNlcg==", "needed"),
     ("Bearerx\ttoken", "needed"), ("Bearer token", "not valid")],
)
def test_only_the_bearer_scheme_before_other_whitespace_is_called_malformed(
    authorization: str, detail: str
):
    from fer.api.auth import refusal

    assert detail in refusal(authorization)[0]


MALFORMED = "The Authorization header is malformed: "
INVALID_REQUEST = 'Bearer realm="fer", error="invalid_request"'


@pytest.mark.parametrize(
    ("authorization", "detail", "challenge"),
    [
        (None, "A bearer token is needed.", 'Bearer realm="fer"'),
        ("", "A bearer token is needed.", 'Bearer realm="fer"'),
        ("Basic dXNlcjpwYXNz",
         "A bearer token is needed: the Authorization header names another scheme.",
         'Bearer realm="fer"'),
        ("Bearer", MALFORMED + "no token follows the Bearer scheme.", INVALID_REQUEST),
        ("Bearer   ", MALFORMED + "no token follows the Bearer scheme.", INVALID_REQUEST),
        ("Bearer a b", MALFORMED + "the token must not contain spaces or other whitespace.",
         INVALID_REQUEST),
        ("bearer a b", MALFORMED + "the token must not contain spaces or other whitespace.",
         INVALID_REQUEST),
        ("Bearer a  b c", MALFORMED + "the token must not contain spaces or other whitespace.",
         INVALID_REQUEST),
        ("Bearer a\tb", MALFORMED + "the token must not contain spaces or other whitespace.",
         INVALID_REQUEST),
        ("Bearer\ttoken",
         MALFORMED + "the scheme and the token must be separated by a space.", INVALID_REQUEST),
        ("Bearer tok!en", MALFORMED + "the token may hold only letters, digits and - . _ ~ + / "
         "(then = signs at the end).", INVALID_REQUEST),
        ("Bearer not-a-token", "The bearer token is not valid.",
         'Bearer realm="fer", error="invalid_token"'),
    ],
)
def test_each_refused_authorization_header_is_told_what_was_wrong(
    client, authorization: str | None, detail: str, challenge: str
):
    """RFC 6750 (2.1): ``Bearer 1*SP token68``; an error code only when bearer credentials were
    sent (3.1), invalid_request for those that are malformed."""
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/v1/sessions", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == f"{detail} Send Authorization: Bearer <token>."
    assert response.headers["www-authenticate"] == challenge


def test_a_valid_token_followed_by_more_words_is_refused_as_malformed(client, world):
    token = world.tokens["dr.a"]
    for extra in (" b", " " + token, " realm=fer"):
        response = client.get("/v1/sessions", headers={"Authorization": f"Bearer {token}{extra}"})
        assert response.status_code == 401
        assert response.json()["detail"].startswith(MALFORMED + "the token must not contain")


@pytest.mark.parametrize("template", ["bearer {}", "BEARER {}", "Bearer   {}", "  Bearer {}  "])
def test_the_scheme_in_any_case_and_extra_spaces_around_the_token_are_accepted(
    client, world, template: str
):
    """RFC 9110 (11.1): the scheme is case-insensitive; (11.4) one or more spaces before the
    token; surrounding whitespace is not part of a field's value (5.5)."""
    headers = {"Authorization": template.format(world.tokens["dr.a"])}
    assert client.get("/v1/sessions", headers=headers).status_code == 200



@pytest.mark.parametrize("around", ["\xa0", "\x85", "\x1f", "\x0b"])
def test_only_spaces_and_tabs_around_the_header_are_not_part_of_it(around: str):
    """RFC 9110 (5.5): a field value's surrounding whitespace is spaces and tabs. Any other
    character around the credentials (a server passes a no-break space through as it is) is
    part of them, so they are malformed, not the token inside them."""
    from fer.api.auth import read_bearer

    for authorization in (f"Bearer token{around}", f"{around}Bearer token"):
        token, malformation = read_bearer(authorization)
        assert token is None, repr(authorization)
    assert read_bearer(f"Bearer token{around}")[1] is not None
    assert read_bearer(" \tBearer token\t ") == ("token", None)
