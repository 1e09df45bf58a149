"""Shared builders for the API tests: four accounts, their tokens and three recorded sessions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fer.accounts import AccountStore
from fer.accounts.tokens import TokenStore
from fer.sessions.store import SessionStore
from tests.sessions.helpers import CLASSES, record

PASSWORD = "a long enough password"
SERVICE_TOKEN = "service-token-for-the-tests-0123456789abcdef"


@dataclass(frozen=True)
class World:
    database: Path
    tokens: dict[str, str]  # account name (or "service") -> bearer token
    sessions: dict[str, int]  # "a", "b", "shared_with_a" -> session id

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def build_world(database: Path) -> World:
    """Clinicians ``dr.a`` and ``dr.b``, reviewer ``rev``, admin ``boss``; a token each; a
    session recorded by each clinician and one of ``dr.b``'s shared with ``dr.a``."""
    accounts = AccountStore(database)
    users = {
        name: accounts.add_user(name, role, PASSWORD)
        for name, role in (("dr.a", "clinician"), ("dr.b", "clinician"), ("rev", "reviewer"),
                           ("boss", "admin"))
    }
    token_store = TokenStore(database)
    tokens = {name: token_store.issue(name, "tests")[1] for name in users}
    tokens["service"] = SERVICE_TOKEN
    store = SessionStore(database)
    sessions = {}
    for key, owner in (("a", "dr.a"), ("b", "dr.b"), ("shared_with_a", "dr.b")):
        consent = store.record_consent(f"Client of {key}", client_code=f"C-{key}")
        frames = [record(t_seconds=0.1 * index) for index in range(1, 6)]
        sessions[key] = store.create_session(
            consent.id, "ferplus", CLASSES, "video", frames=frames,
            owner_id=users[owner].id,
        )
    store.share_session(sessions["shared_with_a"], users["dr.a"].id)
    return World(database, tokens, sessions)
