"""fer — facial-expression recognition workbench for remote psychotherapy.

``import fer`` is cheap: heavy modules (TensorFlow, MediaPipe) load on first use of a public name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["EmotionModel", "EmotionRecognizer", "load_model", "predict"]

_LAZY = {
    "load_model": "fer.models.inference",
    "predict": "fer.models.inference",
    "EmotionModel": "fer.models.inference",
    "EmotionRecognizer": "fer.realtime.pipeline",
}

if TYPE_CHECKING:  # pragma: no cover
    from fer.models.inference import EmotionModel, load_model, predict
    from fer.realtime.pipeline import EmotionRecognizer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
