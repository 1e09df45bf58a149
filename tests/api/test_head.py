"""A HEAD request is answered as its GET would be, status and headers, without a body."""

from __future__ import annotations

from typing import Any

import anyio
import pytest


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
