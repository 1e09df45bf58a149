"""Debian's nginx for the proxy tests: the documented configurations run in a test folder with a
fresh self-signed certificate for 127.0.0.1."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docs" / "deployment" / "nginx-instances.conf"
NGINX = Path("/usr/sbin/nginx")


def instances_config(directory: Path, listen_port: int, port_a: int, port_b: int) -> str:
    """docs/deployment/nginx-instances.conf filled in: its files under ``directory``, listening
    on ``listen_port``, in front of the instances on ``port_a`` and ``port_b``."""
    config = TEMPLATE.read_text()
    for name, value in (("@DIR@", directory), ("@PORT_A@", port_a), ("@PORT_B@", port_b),
                        ("@LISTEN_PORT@", listen_port)):
        config = config.replace(name, str(value))
    assert "@" not in re.sub(r"#.*", "", config), "a placeholder was left unfilled"
    return config


@contextmanager
def running_nginx(directory: Path, config: str, listen_port: int) -> Iterator[Path]:
    """nginx with ``config`` (its paths under ``directory``) until it listens on
    127.0.0.1:``listen_port``; yields its access log."""
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    (directory / "logs").mkdir(mode=0o700, exist_ok=True)  # nginx makes its logs 0644
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=fer-workbench.test", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
        check=True, capture_output=True,
    )
    conf = directory / "nginx.conf"
    conf.write_text(config)
    error_log = directory / "logs" / "error.log"
    command = [str(NGINX), "-p", str(directory), "-c", str(conf), "-e", str(error_log)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"nginx stopped: {error_log.read_text()}"
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", listen_port)) == 0:
                    break
            assert time.monotonic() < deadline, "nginx did not listen"
            time.sleep(0.1)
        yield directory / "logs" / "access.log"
    finally:
        process.terminate()
        process.wait(timeout=20)
