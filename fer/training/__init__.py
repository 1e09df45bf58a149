"""The training lab: never imported by the runtime a clinic runs.

``config`` (``TrainConfig``), ``targets`` (per-head training targets), ``network`` (training
graph, loss, optimizer), ``loop`` (training with checkpoints and resume), ``averaging`` (weight
averaging), ``run_state`` (a run's persistent state and lineage), ``selection`` (choosing on
PublicTest), ``soup`` (weight soups), ``distill`` (teacher targets), ``calibration``
(temperatures), ``publish`` (exporting a model with its card), ``model_folders`` (a model's
folder, written whole), ``republish`` (redoing one part of a published model), ``compare``
(strategy comparison).
"""
