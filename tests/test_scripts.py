"""The helper scripts under ``scripts/``, run as the test command runs them."""

from __future__ import annotations

import glob
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_SCRIPT = REPO_ROOT / "scripts" / "postgres_for_tests.sh"

# Run inside the throw-away cluster: what a client of FER_TEST_POSTGRES_URL can see.
PROBE = """
import json, os, urllib.parse
import psycopg
url = os.environ["FER_TEST_POSTGRES_URL"]
host = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("host", [""])[0]
with psycopg.connect(url) as connection:
    listen = connection.execute("SHOW listen_addresses").fetchone()[0]
    hba = connection.execute("SELECT type FROM pg_hba_file_rules WHERE auth_method = 'trust'")
    trusted = sorted({row[0] for row in hba})
print(json.dumps({"url": url, "host": host, "mode": os.stat(host).st_mode if host else None,
                  "listen": listen, "trusted": trusted}))
"""


def test_the_test_postgres_server_is_reachable_only_through_its_private_socket():
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.skip("no PostgreSQL server programs under /usr/lib/postgresql")
    environ = {k: v for k, v in os.environ.items() if k not in ("FER_TEST_POSTGRES_URL", "CI")}
    result = subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), sys.executable, "-c", PROBE],
        capture_output=True, text=True, env=environ, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # No TCP listener: a trusting superuser on 127.0.0.1 is open to every local account.
    assert seen["listen"] == ""
    assert "127.0.0.1" not in seen["url"] and "localhost" not in seen["url"]
    assert seen["trusted"] == ["local"]
    # The socket lives in a folder only the server's account (and root) can enter.
    assert Path(seen["host"]).is_absolute()
    assert stat.S_IMODE(seen["mode"]) == 0o700
    assert not Path(seen["host"]).exists()  # removed when the command ended
