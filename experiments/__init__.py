"""Research experiments around the ``fer`` package: scripts, their results and records.

Nothing in ``fer`` imports this package. Run a script from the repository root with
``python -m experiments.<topic>.<script>``; see ``experiments/README.md``.
"""
