"""Which smoothing window and switch margin suit real footage? Flicker against delay.

The Live page showed the label alternating between neutral and happy on every loop of a short
neutral-to-smile clip (issue #26, item 4). This runs the frame pipeline (``EmotionRecognizer``
with its default views) with each shipped model (the Live page offers them all; ``--models``
picks some) over real footage as the Live page receives it (letterboxed to 640×480, 15 frames
per second) and replays the recorded per-frame probabilities through ``ProbabilitySmoother`` at
a grid of window lengths, switch margins and minimum dwell times. The replay is what
``EmotionRecognizer.process`` does with the same probabilities; the script checks that for the
Live default model and the current defaults before it trusts the replay. Each measure is kept
at its worst over the models (``worst_case``): the defaults serve whichever model is chosen.

Footage:

- ``near`` and ``far``: the whole shared video (a woman crying, then a short pause looking up with
  a hand at her mouth, then smiling), as it is and with the picture shrunk to
  ``FAR_FACE_SCALE`` of the frame's width (a smaller face).
- ``webcam0``, ``webcam1``, ...: the shrunk picture with fresh sensor noise on every frame, sent
  as one low-bitrate H.264 stream (``webcam_frames``), once per seed of ``WEBCAM_SEEDS``:
  noisier per-frame probabilities, as from a cheap camera. A few seeds, because one noise draw
  decides whether a model's reading dips for a second or not.
- ``loop``: the seconds ``--loop-start``..``--loop-end`` of it (by default 8.5-11.5 s: one second
  of the pause, which the models read as surprise, neutral or fear, then two seconds of smile),
  played ``--loops`` times back to back as Chromium's fake camera loops a clip.

Per setting the script prints:

- flicker: label changes per minute that do not follow the footage, counted inside parts of it
  that show one expression throughout: the stable stretches of the three versions of the video
  (``STABLE_STRETCHES``: crying, smiling) and each loop's pause and smile. Inside a part, the
  first change to the part's predominant raw class follows the footage, and so does a change to
  ``"uncertain"`` away from another label; every other change (away from the part's class, to a
  third class, back and forth) is flicker. A label that goes back to neutral, surprise or
  "uncertain" when the clip loops back to the pause is following the clip, not flickering.
- loops followed: the share of loops in which the label took the smile's class and left it in
  the next pause.
- delay: from a change in the raw per-frame top class to the shown label following it, on the
  loop. A raw change is the start (onset) or end (offset) of a run of the smile's class lasting
  at least ``SUSTAINED_S``; the delay runs until the shown label becomes that class (onset) or
  leaves it (offset). Means over the loops; changes never followed are counted as missed.
- uncertain: the share of frames, over all footage, labelled ``"uncertain"``.

A first row scores the raw per-frame top class itself. The defaults are chosen by
``choose_setting``'s rule (see its docstring) or, when no setting meets its limits, by
``choose_steadiest``.

    FER_DATA_DIR=/path/to/data python -m experiments.smoothing_on_footage \\
        [--loops 8] [--models NAME ...] \\
        [--save-probabilities tests/realtime/fixtures/smoothing_footage.npz]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

VIDEO_NAME = "videos/WolfgangLanger_Pexels.mp4"
CAMERA_FPS = 15.0
CAMERA_SIZE = (640, 480)  # (width, height) of the Live test's fake camera
# Seconds of the full video where the face shows one expression throughout, checked by eye frame
# by frame at the stretch ends: crying (her eyes open and look up from 5.9 s), then smiling.
STABLE_STRETCHES = ((1.0, 5.8), (10.5, 19.5))
# The same video with the picture shrunk to this share of the frame's width: a smaller face
# gives the model fewer pixels, so its per-frame probabilities are noisier.
FAR_FACE_SCALE = 0.35
# A webcam's picture: the shrunk video with fresh Gaussian sensor noise on every frame (the
# robustness suite's sigma), then sent as one H.264 stream at a video call's low bitrate.
WEBCAM_NOISE_SIGMA = 12.0
WEBCAM_BITRATE = 300_000  # bits per second at 15 frames per second, 640x480
WEBCAM_SEEDS = (0, 1, 2)
SUSTAINED_S = 0.4  # a raw top class must hold this long to count as a change in the footage

WINDOWS_S = (0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3)
DWELLS_S = (0.0, 0.5, 1.0)

# The rule's limits: the label may change for no reason in the footage at most this often.
MAX_FLICKER_PER_MIN = 2.0
MIN_FOLLOWED_SHARE = 0.9


@dataclass(frozen=True)
class Footage:
    """Per-frame raw probabilities of one face, with frame times and the model's classes (and
    the per-class "uncertain" thresholds its card gives the pipeline's views, if any)."""

    name: str
    t_s: NDArray[np.float64]
    probs: NDArray[np.float64]  # (n_frames, n_classes)
    classes: tuple[str, ...]
    class_thresholds: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Scores:
    """What one smoothing setting does on the footage."""

    window_s: float
    switch_margin: float
    min_dwell_s: float
    stable_flicker_per_min: float
    loop_flicker_per_min: float
    loop_followed_share: float
    onset_delay_ms: float
    offset_delay_ms: float
    n_missed: int
    uncertain_share: float

    @property
    def mean_delay_ms(self) -> float:
        return (self.onset_delay_ms + self.offset_delay_ms) / 2


@dataclass(frozen=True)
class Recording:
    """One model's probabilities on all the footage: the whole video as it is, shrunk, and
    shrunk as a webcam sends it with each noise seed (``stable``), and the looped clip."""

    stable: tuple[Footage, ...]
    loop: Footage
    loop_s: float
    pause_s: float

    def score(self, config) -> Scores:
        return score(self.stable, self.loop, config, self.loop_s, self.pause_s)


# ----------------------------------------------------------------------------- footage


def camera_frames(
    video: Path, start_s: float = 0.0, end_s: float = float("inf"), face_scale: float = 1.0
):
    """Yield the video's frames between two positions as the Live page gets them: resampled to
    15 fps and letterboxed into 640×480 as the browser test's fake camera does. A
    ``face_scale`` below 1 shrinks the picture inside the frame (a person further away)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    source_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    n_yielded, index = 0, 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            position_s = index / source_fps
            index += 1
            if position_s < start_s - 1e-9 or (position_s - start_s) * CAMERA_FPS < n_yielded:
                continue
            if position_s >= end_s:
                return
            width, height = CAMERA_SIZE
            scale = face_scale * width / frame.shape[1]
            resized = cv2.resize(
                frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                interpolation=cv2.INTER_AREA,
            )
            canvas = np.zeros((height, width, 3), np.uint8)
            top = max(0, (height - resized.shape[0]) // 2)
            left = (width - resized.shape[1]) // 2
            visible = resized[: height - top]
            canvas[top : top + visible.shape[0], left : left + visible.shape[1]] = visible
            n_yielded += 1
            yield canvas
    finally:
        capture.release()


def webcam_frames(frames: Iterable[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """The frames with fresh sensor noise each (seeded) and through a low-bitrate H.264 stream."""
    from fer.evaluation.robustness import through_codec

    rng = np.random.default_rng(seed)
    noisy = [
        np.clip(frame + rng.normal(0, WEBCAM_NOISE_SIGMA, frame.shape), 0, 255).astype(np.uint8)
        for frame in frames
    ]
    return through_codec(noisy, "libx264", WEBCAM_BITRATE)


def record_probabilities(
    frames: Iterable[np.ndarray], name: str, config=None, model_name: str | None = None
) -> tuple[Footage, list[str]]:
    """Run the pipeline (with the named shipped model, by default the Live default) over the
    frames (15 fps) and keep the first face's raw probabilities, with the labels the pipeline
    showed; frames without a face are dropped."""
    from fer.models.inference import class_thresholds, load_model
    from fer.realtime.pipeline import DEFAULT_MODEL, EmotionRecognizer

    model = load_model(model_name or DEFAULT_MODEL)
    recognizer = EmotionRecognizer(model=model, smoothing=config)
    times, probs, labels = [], [], []
    for n_frame, frame in enumerate(frames):
        t_s = n_frame / CAMERA_FPS
        results = recognizer.process(frame, t_s)
        if results:
            times.append(t_s)
            probs.append(results[0].probs)
            labels.append(results[0].label)
    recognizer.close()
    footage = Footage(
        name, np.array(times), np.array(probs, np.float64), tuple(recognizer.classes),
        # The pipeline's smoother uses the card's thresholds; so must the replay.
        class_thresholds(model, recognizer.tta),
    )
    return footage, labels


# ----------------------------------------------------------------------------- measures


def smoothed_labels(footage: Footage, config) -> list[str]:
    """The labels ``ProbabilitySmoother`` shows for the footage's probabilities."""
    from fer.realtime.smoothing import ProbabilitySmoother

    smoother = ProbabilitySmoother(footage.classes, config, footage.class_thresholds)
    return [smoother.update(p, t).label for p, t in zip(footage.probs, footage.t_s, strict=True)]


def raw_labels(footage: Footage) -> list[str]:
    return [footage.classes[i] for i in footage.probs.argmax(axis=1)]


def sustained_runs(labels: Sequence[str], t_s: NDArray[np.float64], min_s: float = SUSTAINED_S):
    """``(label, start_index, end_index)`` of runs of one label lasting at least ``min_s``
    (end exclusive); a run's duration is counted to the first frame after it."""
    runs, start = [], 0
    for index in range(1, len(labels) + 1):
        if index == len(labels) or labels[index] != labels[start]:
            end_t = t_s[index] if index < len(labels) else t_s[-1] + 1 / CAMERA_FPS
            if end_t - t_s[start] >= min_s - 1e-9:
                runs.append((labels[start], start, index))
            start = index
    return runs


def follow_delays(
    raw: Sequence[str], shown: Sequence[str], t_s: NDArray[np.float64], label: str
) -> tuple[list[float], list[float], int]:
    """Onset and offset delays (seconds) of the shown label behind the raw top class for the
    sustained raw runs of ``label``, and the number of such changes it never followed."""
    runs = sustained_runs(raw, t_s)
    onsets, offsets, n_missed = [], [], 0
    for position, (run_label, start, end) in enumerate(runs):
        if run_label != label:
            continue
        previous = runs[position - 1] if position else None
        following = runs[position + 1] if position + 1 < len(runs) else None
        if previous is not None and previous[0] != label:
            # Until the raw stream next settles on another class.
            limit = following[1] if following is not None else len(shown)
            hit = next((i for i in range(start, limit) if shown[i] == label), None)
            if hit is None:
                n_missed += 1
            else:
                onsets.append(t_s[hit] - t_s[start])
        if following is not None and following[0] != label:
            # Until the raw stream next settles on this class again.
            limit = next((r[1] for r in runs[position + 2 :] if r[0] == label), len(shown))
            hit = next((i for i in range(end, limit) if shown[i] != label), None)
            if hit is None:
                n_missed += 1
            else:
                offsets.append(t_s[hit] - t_s[end])
    return onsets, offsets, n_missed


def changes(shown: Sequence[str]) -> list[int]:
    """Indices where the shown label differs from the frame before."""
    return [i for i in range(1, len(shown)) if shown[i] != shown[i - 1]]


def predominant(labels: Sequence[str]) -> str:
    values, counts = np.unique(list(labels), return_counts=True)
    return str(values[counts.argmax()])


def count_flicker(shown: Sequence[str], raw: Sequence[str], part: NDArray[np.intp]) -> int:
    """Label changes inside one part of the footage (frame indices, one expression throughout)
    that do not follow it. Following: the first change to the part's predominant raw class, and
    a change to ``"uncertain"`` away from a label that is not that class. Every other change
    (away from the part's class, to a third class, back and forth) is flicker."""
    from fer.emotions import UNCERTAIN

    expected = predominant([raw[i] for i in part])
    n_flicker, reached = 0, shown[part[0]] == expected
    for i in part[1:]:
        if shown[i] == shown[i - 1]:
            continue
        if shown[i] == expected and not reached:
            reached = True
        elif not (shown[i] == UNCERTAIN and shown[i - 1] != expected):
            n_flicker += 1
    return n_flicker


def stable_parts(
    t_s: NDArray[np.float64], stretches: Sequence[tuple[float, float]] = STABLE_STRETCHES
) -> list[NDArray[np.intp]]:
    return [np.flatnonzero((t_s >= start_s) & (t_s < end_s)) for start_s, end_s in stretches]


def loop_parts(t_s: NDArray[np.float64], loop_s: float, pause_s: float) -> list[NDArray[np.intp]]:
    """Each loop's pause and expressive part, in order."""
    loop_index = np.floor((t_s + 1e-6) / loop_s).astype(int)
    expressive = np.mod(t_s + 1e-6, loop_s) >= pause_s
    return [
        part
        for loop in range(int(loop_index.max()) + 1)
        for is_expressive in (False, True)
        if len(part := np.flatnonzero((loop_index == loop) & (expressive == is_expressive)))
    ]


def duration_s(parts: Sequence[NDArray[np.intp]]) -> float:
    return float(sum(len(part) for part in parts)) / CAMERA_FPS


def score(
    stable: Sequence[Footage], loop: Footage, config, loop_s: float, pause_s: float
) -> Scores:
    """Flicker, following, delay and uncertainty of one setting on the footage."""
    from fer.emotions import UNCERTAIN

    n_stable_flicker, stable_duration_s, shown_all = 0, 0.0, []
    for footage in stable:
        shown, raw = smoothed_labels(footage, config), raw_labels(footage)
        parts = stable_parts(footage.t_s)
        n_stable_flicker += sum(count_flicker(shown, raw, part) for part in parts)
        stable_duration_s += duration_s(parts)
        shown_all += shown
    shown, raw = smoothed_labels(loop, config), raw_labels(loop)
    parts = loop_parts(loop.t_s, loop_s, pause_s)
    n_loop_flicker = sum(count_flicker(shown, raw, part) for part in parts)
    expression = predominant([raw[i] for part in parts[1::2] for i in part])
    # A loop is followed when the label takes the expression in its expressive part and leaves
    # it in the next loop's pause (the last loop has no next pause).
    n_loops, n_followed = len(parts) // 2, 0
    for loop_number in range(n_loops):
        took = expression in {shown[i] for i in parts[2 * loop_number + 1]}
        next_pause = parts[2 * loop_number + 2] if 2 * loop_number + 2 < len(parts) else None
        left = next_pause is None or shown[next_pause[-1]] != expression
        n_followed += took and left
    onsets, offsets, n_missed = follow_delays(raw, shown, loop.t_s, expression)
    shown_all += shown
    return Scores(
        window_s=config.window_s,
        switch_margin=config.switch_margin,
        min_dwell_s=config.min_dwell_s,
        stable_flicker_per_min=60 * n_stable_flicker / stable_duration_s,
        loop_flicker_per_min=60 * n_loop_flicker / duration_s(parts),
        loop_followed_share=n_followed / n_loops,
        onset_delay_ms=1e3 * float(np.mean(onsets)) if onsets else float("nan"),
        offset_delay_ms=1e3 * float(np.mean(offsets)) if offsets else float("nan"),
        n_missed=n_missed,
        uncertain_share=shown_all.count(UNCERTAIN) / len(shown_all),
    )


def worst_case(per_model: Sequence[Scores]) -> Scores:
    """One setting's scores over several models, each measure at its worst: the defaults serve
    whichever model the clinician picks on the Live page."""
    first = per_model[0]
    if any(
        (s.window_s, s.switch_margin, s.min_dwell_s)
        != (first.window_s, first.switch_margin, first.min_dwell_s)
        for s in per_model
    ):
        raise ValueError("worst_case combines the scores of one setting")
    return dataclasses.replace(
        first,
        stable_flicker_per_min=max(s.stable_flicker_per_min for s in per_model),
        loop_flicker_per_min=max(s.loop_flicker_per_min for s in per_model),
        loop_followed_share=min(s.loop_followed_share for s in per_model),
        onset_delay_ms=_longest_delay([s.onset_delay_ms for s in per_model]),
        offset_delay_ms=_longest_delay([s.offset_delay_ms for s in per_model]),
        n_missed=max(s.n_missed for s in per_model),
        uncertain_share=max(s.uncertain_share for s in per_model),
    )


def _longest_delay(delays_ms: Sequence[float]) -> float:
    """The longest delay; NaN (a model whose label never followed a change) beats any other,
    whatever the order, where ``max`` would depend on it."""
    return max(delays_ms, key=lambda delay: math.inf if math.isnan(delay) else delay)


def score_models(recordings: Mapping[str, Recording], config) -> Scores:
    """The worst case over the models' recordings of one setting's scores."""
    return worst_case([recording.score(config) for recording in recordings.values()])


def follows_the_loop(s: Scores) -> bool:
    """The label takes the loop's expression and leaves it, steadily, on enough loops."""
    return (
        s.loop_flicker_per_min <= MAX_FLICKER_PER_MIN
        and s.loop_followed_share >= MIN_FOLLOWED_SHARE
        and s.n_missed == 0
    )


def choose_setting(scores: Sequence[Scores], current_dwell_s: float) -> Scores:
    """The rule. Admissible: the label changes for no reason at most ``MAX_FLICKER_PER_MIN``
    times a minute on the stable stretches, and follows the loop (``follows_the_loop``). Among
    those, the fastest (``fastest_steadiest``). Raises ``ValueError`` when none is admissible."""
    admissible = [
        s for s in scores
        if s.stable_flicker_per_min <= MAX_FLICKER_PER_MIN and follows_the_loop(s)
    ]
    if not admissible:
        raise ValueError("no setting meets the rule's limits")
    return fastest_steadiest(admissible, current_dwell_s)


def choose_steadiest(scores: Sequence[Scores], current_dwell_s: float) -> Scores:
    """When no setting meets the rule's limits: among those that follow the loop, the ones
    with the fewest unexplained changes on the stable stretches, then the fastest of these
    (``fastest_steadiest``). A clinician is better served by the steadiest label that still
    follows a smile than by none."""
    following = [s for s in scores if follows_the_loop(s)]
    if not following:
        raise ValueError("no setting follows the looped expression")
    least = min(s.stable_flicker_per_min for s in following)
    return fastest_steadiest(
        [s for s in following if s.stable_flicker_per_min <= least + 1e-9], current_dwell_s
    )


def fastest_steadiest(candidates: Sequence[Scores], current_dwell_s: float) -> Scores:
    """The settings whose mean delay (onset and offset) is less than one frame longer than the
    least; of these the steadier one: the larger margin, then the longer window, then the
    current dwell if it is among them, else the shorter dwell (a dwell delays every change that
    comes soon after another)."""
    least_ms = min(s.mean_delay_ms for s in candidates)
    frame_ms = 1e3 / CAMERA_FPS
    # A millisecond below a whole frame: delays come in whole frames, so this keeps exact ties
    # of one frame out whatever the rounding of the frame times.
    fast = [s for s in candidates if s.mean_delay_ms < least_ms + frame_ms - 1.0]
    return max(
        fast,
        key=lambda s: (
            s.switch_margin, s.window_s, s.min_dwell_s == current_dwell_s, -s.min_dwell_s
        ),
    )


# ----------------------------------------------------------------------------- report


def format_row(s: Scores, marks: str = "", setting: str | None = None) -> str:
    setting = setting or f"{s.window_s:.1f} | {s.switch_margin:.2f} | {s.min_dwell_s:.1f}"
    return (
        f"| {setting} "
        f"| {s.stable_flicker_per_min:.1f} | {s.loop_flicker_per_min:.1f} "
        f"| {100 * s.loop_followed_share:.0f} % | {s.onset_delay_ms:.0f} "
        f"| {s.offset_delay_ms:.0f} | {s.n_missed} | {100 * s.uncertain_share:.1f} % | {marks} |"
    )


HEADER = (
    "| window (s) | margin | dwell (s) | flicker, stable (/min) | flicker, loop (/min) "
    "| loops followed | onset delay (ms) | offset delay (ms) | missed | uncertain | |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def describe_raw_loop(loop: Footage, loop_s: float, pause_s: float) -> str:
    """How the raw per-frame top class behaves on the loop: runs per part and changes."""
    raw = raw_labels(loop)
    phase = np.mod(loop.t_s + 1e-6, loop_s)
    pause = [raw[i] for i in np.flatnonzero(phase < pause_s)]
    smile = [raw[i] for i in np.flatnonzero(phase >= pause_s)]

    def shares(labels: list[str]) -> str:
        values, counts = np.unique(labels, return_counts=True)
        order = counts.argsort()[::-1]
        return ", ".join(f"{values[i]} {100 * counts[i] / len(labels):.0f} %" for i in order)

    n_changes = len(changes(raw))
    duration_min = (loop.t_s[-1] - loop.t_s[0] + 1 / CAMERA_FPS) / 60
    return (
        f"raw top class on the loop: pause part {shares(pause)}; expressive part {shares(smile)};"
        f" {n_changes / duration_min:.0f} raw changes per minute"
    )


def save_recordings(path: Path, recordings: Mapping[str, Recording]) -> None:
    """Write the models' recordings (with each model's per-class thresholds) to an ``.npz``."""
    arrays: dict[str, np.ndarray] = {"models": np.array(list(recordings))}
    for model_name, recording in recordings.items():
        near = recording.stable[0]
        arrays[f"{model_name}/classes"] = np.array(near.classes)
        arrays[f"{model_name}/threshold_classes"] = np.array(list(near.class_thresholds))
        arrays[f"{model_name}/thresholds"] = np.array(
            list(near.class_thresholds.values()), np.float32
        )
        arrays[f"{model_name}/loop_s"] = np.float32(recording.loop_s)
        arrays[f"{model_name}/pause_s"] = np.float32(recording.pause_s)
        arrays[f"{model_name}/stable_parts"] = np.array([f.name for f in recording.stable])
        for footage in (*recording.stable, recording.loop):
            arrays[f"{model_name}/{footage.name}_t_s"] = footage.t_s.astype(np.float32)
            arrays[f"{model_name}/{footage.name}_probs"] = footage.probs.astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_recordings(path: Path) -> dict[str, Recording]:
    """The recordings :func:`save_recordings` wrote, by model name."""
    stored = np.load(path)
    recordings = {}
    for model_name in (str(name) for name in stored["models"]):

        def read(part: str, model_name: str = model_name) -> Footage:
            thresholds = zip(
                stored[f"{model_name}/threshold_classes"], stored[f"{model_name}/thresholds"],
                strict=True,
            )
            return Footage(
                part,
                stored[f"{model_name}/{part}_t_s"].astype(np.float64),
                stored[f"{model_name}/{part}_probs"].astype(np.float64),
                tuple(str(name) for name in stored[f"{model_name}/classes"]),
                {str(name): float(value) for name, value in thresholds},
            )

        recordings[model_name] = Recording(
            tuple(read(str(part)) for part in stored[f"{model_name}/stable_parts"]),
            read("loop"),
            float(stored[f"{model_name}/loop_s"]), float(stored[f"{model_name}/pause_s"]),
        )
    return recordings


def record_models(
    video: Path, model_names: Sequence[str], loop_start_s: float, loop_end_s: float,
    pause_s: float, n_loops: int,
) -> dict[str, Recording]:
    """Each model's recording of the footage. The Live default's is first checked: replaying
    its probabilities through the smoother must give the labels the pipeline showed."""
    from fer.realtime.pipeline import DEFAULT_MODEL
    from fer.realtime.smoothing import SmoothingConfig

    defaults = SmoothingConfig()
    clip = list(camera_frames(video, loop_start_s, loop_end_s))
    webcam_versions = {
        seed: webcam_frames(camera_frames(video, face_scale=FAR_FACE_SCALE), seed)
        for seed in WEBCAM_SEEDS
    }
    recordings = {}
    for model_name in model_names:
        near, shown = record_probabilities(camera_frames(video), "near", defaults, model_name)
        if model_name == DEFAULT_MODEL and shown != smoothed_labels(near, defaults):
            raise RuntimeError(
                "replaying the probabilities does not reproduce the pipeline's labels"
            )
        far, _ = record_probabilities(
            camera_frames(video, face_scale=FAR_FACE_SCALE), "far", model_name=model_name
        )
        webcams = [
            record_probabilities(iter(frames), f"webcam{seed}", model_name=model_name)[0]
            for seed, frames in webcam_versions.items()
        ]
        loop, _ = record_probabilities(
            (f for _ in range(n_loops) for f in clip), "loop", model_name=model_name
        )
        if min(len(footage.t_s) for footage in (near, far, *webcams, loop)) == 0:
            raise RuntimeError(f"no face found in the footage with {model_name}")
        recordings[model_name] = Recording(
            (near, far, *webcams), loop, len(clip) / CAMERA_FPS, pause_s
        )
    return recordings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, help=f"default: $FER_DATA_DIR/{VIDEO_NAME}")
    parser.add_argument("--loop-start", type=float, default=8.5, help="seconds into the video")
    parser.add_argument("--loop-end", type=float, default=11.5)
    parser.add_argument("--pause", type=float, default=1.0,
                        help="seconds of the loop before the expression starts")
    parser.add_argument("--loops", type=int, default=8)
    parser.add_argument("--models", nargs="+",
                        help="shipped models to score (default: every one in models/, as the "
                             "Live page offers them)")
    parser.add_argument("--save-probabilities", type=Path,
                        help="write the recorded probabilities to this .npz (test fixture)")
    args = parser.parse_args(argv)

    from fer.config import MODELS_DIR, data_dir_from_env
    from fer.evaluation.reports import list_models
    from fer.realtime.smoothing import SmoothingConfig

    video = args.video or data_dir_from_env() / VIDEO_NAME
    model_names = args.models or list_models(MODELS_DIR)
    if not model_names:
        raise RuntimeError(f"no models in {MODELS_DIR}")
    recordings = record_models(
        video, model_names, args.loop_start, args.loop_end, args.pause, args.loops
    )
    first = next(iter(recordings.values()))
    print(f"video {video} at {CAMERA_FPS:.0f} fps: stable stretches {STABLE_STRETCHES} s of "
          f"the whole video, of it with the picture at {FAR_FACE_SCALE:.0%}, and of that as a "
          f"webcam sends it (noise seeds {WEBCAM_SEEDS}); loop "
          f"{args.loop_start}-{args.loop_end} s ({round(first.loop_s * CAMERA_FPS)} frames, "
          f"pause {args.pause} s) x {args.loops}")
    for model_name, recording in recordings.items():
        counts = ", ".join(f"{len(f.t_s)} ({f.name})" for f in recording.stable)
        print(f"{model_name}: frames with a face {counts}; "
              f"{describe_raw_loop(recording.loop, recording.loop_s, recording.pause_s)}")

    defaults = SmoothingConfig()
    grid = [
        score_models(recordings, dataclasses.replace(
            defaults, window_s=w, switch_margin=m, min_dwell_s=d))
        for w in WINDOWS_S for m in MARGINS for d in DWELLS_S
    ]
    current = score_models(recordings, defaults)
    try:
        chosen, meets_limits = choose_setting(grid, defaults.min_dwell_s), True
    except ValueError:  # a finding about the models and footage: the steadiest instead
        chosen, meets_limits = choose_steadiest(grid, defaults.min_dwell_s), False
    raw = SmoothingConfig(method="none", uncertain_below=0.0, switch_margin=0.0, min_dwell_s=0.0)
    print(f"Each measure at its worst over {', '.join(recordings)}:")
    print(HEADER)
    print(format_row(score_models(recordings, raw), "raw per-frame top class",
                     setting="none | | "))
    for s in [*grid, current]:
        setting = (s.window_s, s.switch_margin, s.min_dwell_s)
        is_current = setting == (current.window_s, current.switch_margin, current.min_dwell_s)
        if s is current and any(
            (g.window_s, g.switch_margin, g.min_dwell_s) == setting for g in grid
        ):
            continue
        marks = " ".join(
            word for word, hit in (("current default", is_current), ("chosen", s is chosen))
            if hit
        )
        print(format_row(s, marks))
    print("The current defaults per model:")
    print(HEADER)
    for model_name, recording in recordings.items():
        print(format_row(recording.score(defaults), model_name))
    chosen_setting = (
        f"window {chosen.window_s} s, margin {chosen.switch_margin}, dwell {chosen.min_dwell_s} s"
    )
    if meets_limits:
        print(f"chosen by the rule: {chosen_setting}")
    else:
        print(f"no setting meets the rule's limits (at most {MAX_FLICKER_PER_MIN:g} unexplained "
              f"label changes a minute on the stable stretches and on the loop, the smile "
              f"followed on {MIN_FOLLOWED_SHARE:.0%} of loops, no change missed); the steadiest "
              f"that follows the loop: {chosen_setting}")

    if args.save_probabilities:
        save_recordings(args.save_probabilities, recordings)
        print(f"wrote {args.save_probabilities}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
