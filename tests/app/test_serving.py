"""Safe defaults: the project's Streamlit configuration, and the check ``scripts/run_app.sh``
makes before it serves anything beyond this machine."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from ui.serving import effective_options, exposure_problem, flag_values, is_loopback

ROOT = Path(__file__).resolve().parents[2]


def test_the_project_configuration_is_safe_by_default():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["address"] == "127.0.0.1"
    assert settings["server"]["enableXsrfProtection"] is True
    assert 0 < settings["server"]["maxUploadSize"] <= 1000
    assert settings["browser"]["gatherUsageStats"] is False
    assert settings["client"]["showErrorDetails"] == "none"
    assert settings["client"]["toolbarMode"] == "minimal"


def test_streamlit_accepts_every_setting_of_the_project_configuration():
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "streamlit", "config", "show"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0
    assert "is not a valid config option" not in result.stdout + result.stderr
    for line in ('address = "127.0.0.1"', "gatherUsageStats = false",
                 'showErrorDetails = "none"', 'toolbarMode = "minimal"'):
        assert f"\n{line}\n" in result.stdout, line


def test_the_launcher_refuses_to_start_without_a_script():
    from ui.serving import main

    assert main(["--server.port", "1"]) == 2


def test_flags_are_read_in_both_spellings():
    argv = ["--server.port", "1", "--server.address", "0.0.0.0", "--server.sslCertFile=c.pem"]
    assert flag_values(argv) == {"server.address": "0.0.0.0", "server.sslCertFile": "c.pem"}


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("", False), (None, False),
     ("192.168.1.5", False), ("clinic.example.org", False)],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("options", "environ", "allowed"),
    [
        ({"server.address": "127.0.0.1"}, {}, True),
        ({"server.address": None}, {}, False),
        ({"server.address": "0.0.0.0"}, {}, False),
        ({"server.address": "0.0.0.0", "server.sslCertFile": "c"}, {}, False),
        ({"server.address": "0.0.0.0", "server.sslCertFile": "c", "server.sslKeyFile": "k"}, {},
         True),
        ({"server.address": "0.0.0.0"}, {"FER_BEHIND_TLS_PROXY": "1"}, True),
        ({"server.address": "0.0.0.0"}, {"FER_BEHIND_TLS_PROXY": "yes"}, False),
    ],
)
def test_serving_other_machines_needs_tls(options, environ, allowed):
    problem = exposure_problem(options, environ)
    assert (problem is None) is allowed
    if problem:
        assert "FER_BEHIND_TLS_PROXY" in problem and "docs/deployment.md" in problem


def test_the_refusal_sends_a_local_proxy_to_127_0_0_1_not_to_the_flag():
    """With the proxy on this machine the app stays on 127.0.0.1; FER_BEHIND_TLS_PROXY is for a
    proxy on another machine only. Setting it for a local proxy would serve plain HTTP to the
    LAN."""
    problem = exposure_problem({"server.address": "0.0.0.0"}, {})
    assert problem is not None
    assert "Keep the default 127.0.0.1 (also behind a TLS reverse proxy on this machine" in problem
    assert "only for a TLS reverse proxy on another machine, FER_BEHIND_TLS_PROXY=1" in problem
    assert "on this machine and FER_BEHIND_TLS_PROXY" not in problem


def test_the_refusal_quoted_in_the_deployment_guide_is_the_one_given():
    text = (ROOT / "docs" / "deployment.md").read_text()
    quoted = re.search(
        r"\$ bash scripts/run_app.sh --server.address 0.0.0.0\n(.*?)```", text, flags=re.S
    )
    assert quoted is not None
    problem = exposure_problem({"server.address": "0.0.0.0"}, {})
    assert " ".join(quoted[1].split()) == problem


@pytest.fixture
def streamlit_config_restored(monkeypatch):
    """effective_options loads Streamlit's process-wide configuration; reload it without flags
    afterwards so later tests in this process see the project's settings."""
    from streamlit.web import bootstrap

    monkeypatch.chdir(ROOT)
    yield
    bootstrap.load_config_options({})


@pytest.mark.usefixtures("streamlit_config_restored")
def test_effective_options_follow_flags_then_environment_then_config():
    assert effective_options([], {})["server.address"] == "127.0.0.1"  # .streamlit/config.toml
    assert effective_options([], {"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"})["server.address"] == (
        "0.0.0.0"
    )
    options = effective_options(["--server.address", "::1"], {"STREAMLIT_SERVER_ADDRESS": "::"})
    assert options["server.address"] == "::1"


def _environment_is_set_up() -> bool:
    """run_app.sh first runs setup_env.sh, which would install packages if its stamp is stale."""
    want = hashlib.sha256(
        b"".join((ROOT / name).read_bytes()
                 for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml"))
    ).hexdigest()
    stamp = ROOT / ".venv" / ".requirements.sha256"
    return stamp.is_file() and stamp.read_text().strip() == want


@pytest.mark.parametrize(
    "flags", [["--server.address", "0.0.0.0"], ["--server.address=192.168.1.5"]]
)
def test_run_app_refuses_an_unencrypted_public_address(flags):
    if not _environment_is_set_up():
        pytest.skip("the .venv's requirements stamp is stale; run scripts/setup_env.sh first")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMLIT_", "FER_BEH"))}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run_app.sh"), "--server.port", "1", *flags],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Refusing to start" in result.stderr
