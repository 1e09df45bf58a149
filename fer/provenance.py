"""Where an artifact came from: the git commit of the code that made it."""

from __future__ import annotations

import subprocess

from fer.config import PROJECT_ROOT


def git_commit() -> str:
    """The checked-out commit of the project, or ``"unknown"`` outside a git clone."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
