"""A model and recognizer that stand in for the real pipeline in `fer analyze` tests, and the
command line those tests share."""

import numpy as np

from fer.cli import main as fer_main

CLASSES = ("neutral", "happy", "sad")


class FakeModel:
    name = "fakenet"
    classes = CLASSES
    card = {"version": 3}


class FakeRecognizer:
    """Two faces per frame: face 0 with landmarks and every signal, face 1 (smaller) without
    them (Haar)."""

    classes = CLASSES
    detector_warning = None

    def __init__(self, **_options):
        pass

    def process(self, frame_bgr, t_seconds):
        from fer.realtime.pipeline import FaceResult

        if frame_bgr.mean() > 250:  # a white picture holds no face
            return []
        probs = np.array([0.1, 0.8, 0.1], np.float32)
        with_landmarks = FaceResult(
            track_id=0, bbox=(1, 2, 30, 40), probs=probs, smoothed=probs, label="happy",
            confidence=0.8, landmarks=np.zeros((478, 2), np.float32),
            blendshapes={"mouthSmileLeft": 0.5}, action_units={"AU12": 0.75, "AU4": 0.25},
            au_asymmetry={"AU12": 0.125}, valence=0.5, arousal=0.25,
            head_pose={"yaw": 5.0, "pitch": -2.0, "roll": 1.0},
        )
        haar = FaceResult(
            track_id=1, bbox=(50, 2, 20, 30), probs=probs, smoothed=probs, label="happy",
            confidence=0.8, valence=0.5, arousal=0.25,
        )
        return [with_landmarks, haar]

    def close(self):
        pass


def analyse_and_record(media, out, location, *options):
    return fer_main([
        "analyze", str(media), "--out", str(out), "--record", "--consented-by", "Dana Client",
        "--database", str(location), *options,
    ])
