"""``kill -9`` while recording: the file stays sound and no acknowledged frame is lost.

A child process records one face at 30 frames per second through ``SessionRecorder`` and
prints, after each committed batch, how many frames the store has acknowledged. The parent kills
it (SIGKILL, no chance to clean up) at a random moment, then opens the same file again, as the
app does after a crash: ``integrity_check`` must say ok, every acknowledged frame must be there,
the stored frames must be a gapless prefix of what was recorded (no half-written batch), and
closing abandoned sessions must end the session at its last frame. Every trial uses the same file,
so each start also recovers the previous crash's write-ahead log.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine

N_TRIALS = 20
FPS = 30
PROJECT_ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from fer.sessions.recorder import SessionRecorder
    from fer.sessions.records import FrameRecord
    from fer.sessions.store import SessionStore

    store = SessionStore(sys.argv[1])
    session_id = int(sys.argv[2])
    recorder = SessionRecorder(store, session_id, flush_interval_s=0.2)
    probs = np.array([0.1, 0.8, 0.1], np.float32)
    print("ready", flush=True)
    start = time.monotonic()
    index = 0
    while True:
        recorder.add_records([FrameRecord(index / 30, 0, (1, 2, 3, 4), probs, probs, "happy",
                                          0.8)])
        if recorder.maybe_flush():
            print(f"ack {recorder.n_written}", flush=True)
        index += 1
        time.sleep(max(0.0, start + index / 30 - time.monotonic()))
    """
)


def run_and_kill(path: Path, session_id: int, rng: random.Random) -> int:
    """Record in a child, SIGKILL it at a random moment; return the frames it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(session_id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    acknowledged = [0]
    ready = threading.Event()

    def read_acks() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("ready"):
                ready.set()
            elif line.startswith("ack "):
                acknowledged[0] = int(line.split()[1])

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    if not ready.wait(timeout=60):
        child.kill()
        raise AssertionError(f"the recording child did not start: {child.stderr.read()}")
    time.sleep(rng.uniform(0.05, 1.2))
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    reader.join(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return acknowledged[0]


@pytest.mark.slow
def test_kill_9_during_recording_loses_no_acknowledged_frame(tmp_path):
    path = tmp_path / "sessions.db"
    rng = random.Random(2024)
    store = SessionStore(path)
    consent = store.record_consent("Durability Test")
    outcomes = []
    for _ in range(N_TRIALS):
        session_id = store.create_session(consent.id, "m", ("neutral", "happy", "sad"), "live")
        acknowledged = run_and_kill(path, session_id, rng)
        forget_engine(path)  # open the crashed file anew, as a restarted app would
        store = SessionStore(path)
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        frames = store.load_frames(session_id)
        indices = np.rint(frames["t_seconds"].to_numpy() * FPS).astype(int)
        assert len(frames) >= acknowledged, (len(frames), acknowledged)
        np.testing.assert_array_equal(indices, np.arange(len(frames)))  # a gapless prefix
        assert store.get_session(session_id).ended_at is None
        assert store.close_abandoned_sessions() == 1
        info = store.get_session(session_id)
        last = frames["t_seconds"].max() if len(frames) else 0.0
        assert info.ended_at == info.started_at + timedelta(seconds=float(last))
        outcomes.append((acknowledged, len(frames)))
    assert sum(acknowledged > 0 for acknowledged, _ in outcomes) >= N_TRIALS // 2, outcomes
