"""How good and how fast the models are.

``metrics`` (pure NumPy scores), ``evaluate`` (a model on a split), ``reports`` (reading saved
evaluations), ``bench`` and ``bench_video`` (latency per face and per frame), ``cluster``
(K-means of features), ``plots``, ``cluster_plots`` and ``session_plots`` (Plotly figures for
pages and notebooks).
"""
