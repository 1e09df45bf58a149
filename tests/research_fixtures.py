"""Small fixtures for the research pages' tests: a session database written through
:mod:`fer.sessions.store`, a saved classification report and an (untrained) tiny model
directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fer.emotions import FER2013
from fer.evaluation.metrics import classification_report

CLASSES = FER2013.names


def make_session_db(path: Path, n_seconds: int = 20, fps: int = 2, landmarks: bool = True) -> int:
    """Two tracks: track 0 happy for the first half then sad; track 1 neutral throughout (from
    t = 4 s). Every frame of track 0 carries 5 landmarks when ``landmarks``. Returns the id."""
    from fer.sessions.records import FrameRecord
    from fer.sessions.store import SessionStore

    store = SessionStore(path)
    consent = store.record_consent("Test Person")
    session_id = store.create_session(consent.id, "fer2013", CLASSES, "video")
    records = []
    for step in range(n_seconds * fps):
        t_seconds = step / fps
        emotion = "happy" if t_seconds < n_seconds / 2 else "sad"
        # A little deterministic wobble so that frames are distinct points.
        probs = np.full(len(CLASSES), 0.05, np.float32)
        probs[CLASSES.index(emotion)] = 0.7 - 0.01 * (step % 5)
        probs[CLASSES.index("neutral")] += 0.01 * (step % 5)
        points = np.array([[10, 10], [30, 10], [20, 20], [14, 30], [26, 30]], np.float32)
        records.append(
            FrameRecord(
                t_seconds=t_seconds,
                track_id=0,
                bbox=(0, 0, 48, 48),
                probs=probs,
                smoothed=probs,
                label=emotion,
                confidence=0.7,
                landmarks=points + step if landmarks else None,
            )
        )
        if t_seconds >= 4:
            neutral = np.full(len(CLASSES), 0.1, np.float32)
            neutral[CLASSES.index("neutral")] = 0.4
            records.append(
                FrameRecord(
                    t_seconds=t_seconds,
                    track_id=1,
                    bbox=(50, 0, 48, 48),
                    probs=neutral,
                    smoothed=neutral,
                    label="neutral",
                    confidence=0.4,
                )
            )
    store.add_frames(session_id, records)
    return session_id


def make_empty_session(path: Path) -> int:
    from fer.sessions.store import SessionStore

    store = SessionStore(path)
    consent = store.record_consent("Test Person")
    return store.create_session(consent.id, "fer2013", CLASSES, "live")


def synthetic_report(seed: int = 0, n: int = 70) -> dict:
    """A classification report of noisy predictions on ``n`` labels, ten per class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), size=n)
    probabilities[np.arange(n), labels] += 0.5
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    report = classification_report(probabilities, labels, CLASSES)
    report.update(
        {
            "model": "tiny",
            "backend": "keras",
            "dataset": "fer2013",
            "split": "PrivateTest",
            "tta": False,
        }
    )
    return report


def write_report(path: Path, report: dict | None = None) -> dict:
    report = report or synthetic_report()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return report


def make_tiny_model(model_dir: Path, name: str = "tiny") -> Path:
    """An untrained ziggy classifier with a minimal card (enough for ``fer.models.inference``)."""
    from fer.models.zoo import build_classifier

    model_dir.mkdir(parents=True, exist_ok=True)
    build_classifier("ziggy", len(CLASSES)).save(model_dir / "model.keras")
    card = {
        "name": name,
        "label_set": "fer2013",
        "classes": list(CLASSES),
        "architecture": "ziggy",
    }
    (model_dir / "card.json").write_text(json.dumps(card))
    return model_dir


def edit_card(model_dir: Path, **changes) -> None:
    """Set fields of ``model_dir``'s card.json; a field given as None is removed."""
    card = json.loads((model_dir / "card.json").read_text())
    card.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del card[key]
    (model_dir / "card.json").write_text(json.dumps(card))


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes: compare before and after a refused command."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
