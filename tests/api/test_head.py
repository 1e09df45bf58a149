"""A HEAD request is answered as its GET would be, status and headers, without a body, and
audited as the check it is."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from fer.accounts import AuditLog


def _sent(app: Any, method: str, path: str, headers: dict[str, str]) -> list[dict]:
    """What ``app`` sends for one request, message by message: the test client drops a HEAD
    answer's body whether or not the app sent one."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": route, "raw_path": route.encode(),
        "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    anyio.run(app, scope, receive, send)
    return messages


def _paths(world) -> list[str]:
    session = world.sessions["a"]
    return [
        "/v1/health", "/v1/sessions", f"/v1/sessions/{session}",
        f"/v1/sessions/{session}/frames?format=csv", f"/v1/sessions/{session}/report?format=html",
        f"/v1/sessions/{world.sessions['b']}",  # another clinician's: 404 to GET and HEAD alike
        "/openapi.json",
    ]


@pytest.mark.parametrize("authorized", [True, False])
def test_head_answers_as_get_would_without_a_body(client, world, authorized: bool):
    headers = world.headers("dr.a") if authorized else {}
    for path in _paths(world):
        get = client.get(path, headers=headers)
        head = client.head(path, headers=headers)
        assert head.status_code == get.status_code, path
        for name in ("content-type", "content-length", "www-authenticate"):
            assert head.headers.get(name) == get.headers.get(name), (path, name)
        messages = _sent(client.app, "HEAD", path, headers)
        assert messages[0]["type"] == "http.response.start"
        assert messages[0]["status"] == get.status_code
        assert all(not message.get("body") for message in messages[1:]), path
        assert not messages[-1].get("more_body", False)


def test_head_where_there_is_no_get_is_405_and_allow_lists_head_beside_get(client, world):
    response = client.head("/v1/analyze", headers=world.headers("dr.a"))
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    response = client.put(f"/v1/sessions/{world.sessions['a']}", headers=world.headers("boss"))
    assert response.headers["allow"] == "DELETE, GET, HEAD"


def test_the_openapi_document_lists_no_head_operations(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not any("head" in operations for operations in paths.values())


def _audit_rows(world) -> list[tuple[str, str, str, str]]:
    """The audit log's entries, oldest first, as (actor, action, target, detail)."""
    entries = AuditLog(world.database).entries()
    rows = zip(entries["actor"], entries["action"], entries["target"], entries["detail"],
               strict=True)
    return list(reversed(list(rows)))


@pytest.mark.parametrize(
    ("endpoint", "get_action", "head_detail"),
    [("/frames?format=csv", "export_session", "frames csv, headers only"),
     ("/frames?format=json", "export_session", "frames json, headers only"),
     ("/report?format=html", "export_session", "report html, headers only"),
     ("/report?format=fhir", "export_session", "report fhir, headers only"),
     ("", "view_session", "headers only")],
)
def test_a_head_is_audited_as_a_check_never_as_the_export_it_did_not_send(
    client, world, endpoint: str, get_action: str, head_detail: str
):
    a = world.sessions["a"]
    path = f"/v1/sessions/{a}{endpoint}"
    assert client.head(path, headers=world.headers("dr.a")).status_code == 200
    ((actor, action, target, detail),) = _audit_rows(world)
    assert (actor, action, target) == ("dr.a", "check_session", f"session {a}")
    assert detail.startswith(f"{head_detail}; api token ")
    client.get(path, headers=world.headers("dr.a"))
    assert _audit_rows(world)[-1][1:3] == (get_action, f"session {a}")


def test_a_head_of_the_list_is_audited_as_a_check(client, world):
    assert client.head("/v1/sessions", headers=world.headers("service")).status_code == 200
    assert _audit_rows(world) == [
        ("api:service", "check_sessions", "", "3 sessions, headers only; FER_API_TOKEN")
    ]


@pytest.mark.parametrize(
    ("who", "session", "status"),
    [("rev", "a", 403), ("dr.b", "a", 404), ("dr.a", "b", 404), (None, "a", 401)],
)
@pytest.mark.parametrize("endpoint", ["", "/frames?format=csv", "/report?format=html"])
def test_a_head_is_refused_and_audited_exactly_as_its_get(
    client, world, who: str | None, session: str, status: int, endpoint: str
):
    path = f"/v1/sessions/{world.sessions[session]}{endpoint}"
    headers = {} if who is None else world.headers(who)
    assert client.head(path, headers=headers).status_code == status
    refused_head = _audit_rows(world)
    assert client.get(path, headers=headers).status_code == status
    refused_get = _audit_rows(world)[len(refused_head):]
    # The same entry, time aside: a refusal is recorded whatever the method.
    assert refused_head == refused_get
    assert all(action == "access_denied" for _, action, _, _ in refused_head)
    assert len(refused_head) == (0 if who is None else 1)


def test_a_refused_head_is_logged_as_the_head_it_was(client, caplog):
    with caplog.at_level("WARNING", logger="fer.api"):
        client.head("/v1/sessions")
        client.get("/v1/sessions")
    refusals = [line for line in caplog.text.splitlines() if "refused" in line]
    assert len(refusals) == 2
    assert "refused HEAD '/v1/sessions'" in refusals[0]
    assert "refused GET '/v1/sessions'" in refusals[1]
