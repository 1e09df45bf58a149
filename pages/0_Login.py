"""Log in: the only page a browser without a login can open (any other URL shows this one)."""

from __future__ import annotations

from ui import auth


def main() -> None:
    auth.login_form()


if __name__ == "__main__":
    main()
