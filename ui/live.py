"""The Live page's machinery: ICE configuration from the environment, the frame processor shared
by the webrtc worker thread and the page thread, and the side panel's figures.

Threading contract (see streamlit-webrtc's samples): the worker thread calls
:class:`LiveProcessor` for every frame. It never calls ``st.*`` and never touches SQLite: it hands
:class:`LiveUpdate` objects to the page through a bounded queue (dropping when the page is behind)
and appends rows to an in-memory :class:`fer.sessions.recorder.SessionRecorder` buffer. The page
thread
changes settings through lock-guarded methods and flushes the recorder.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer.evaluation.plots import emotion_colour
from fer.realtime.overlay import draw_results

ICE_SERVERS_ENV = "FER_ICE_SERVERS"
TURN_URL_ENV = "FER_TURN_URL"
TURN_USERNAME_ENV = "FER_TURN_USERNAME"
TURN_CREDENTIAL_ENV = "FER_TURN_CREDENTIAL"
ICE_TRANSPORT_POLICY_ENV = "FER_ICE_TRANSPORT_POLICY"
ICE_TRANSPORT_POLICIES = ("all", "relay")
TIMELINE_SPAN_S = 30.0
TRAIL_SPAN_S = 10.0
TOP_ACTION_UNITS = 3
ACTIVE_AU_ABOVE = 0.1


# ------------------------------------------------------------------------------ ICE servers


def _check_ice_server(server: object, where: str) -> dict:
    if not isinstance(server, dict):
        raise ValueError(f"{where}: each ICE server must be an object with 'urls', got {server!r}")
    urls = server.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise ValueError(f"{where}: an ICE server needs 'urls' (a string or list of strings)")
    bad = [url for url in urls if not url.startswith(("stun:", "stuns:", "turn:", "turns:"))]
    if bad:
        raise ValueError(f"{where}: ICE urls must start with stun:, stuns:, turn: or turns: {bad}")
    checked = {"urls": urls}
    for name in ("username", "credential"):
        if name in server:
            if not isinstance(server[name], str):
                raise ValueError(f"{where}: '{name}' must be a string")
            checked[name] = server[name]
    return checked


def rtc_configuration(environ: Mapping[str, str] | None = None) -> dict:
    """The RTCConfiguration for ``webrtc_streamer``, from environment variables.

    - ``FER_ICE_SERVERS``: JSON, a list of ICE servers (``{"urls", "username", "credential"}``)
      or an object with ``"iceServers"``;
    - ``FER_TURN_URL`` (+ ``FER_TURN_USERNAME`` and ``FER_TURN_CREDENTIAL``): one TURN server;
    - ``FER_ICE_TRANSPORT_POLICY``: ``all`` (default) or ``relay``, which makes the browser send
      its video only through the TURN server (to check a relay, or where direct paths must not be
      used).

    Without them: ``{"iceServers": []}``, which keeps a session on this machine or LAN offline
    (streamlit-webrtc would otherwise add a public STUN server). Raises ``ValueError`` with the
    variable's name when a value is malformed.
    """
    environ = os.environ if environ is None else environ
    servers: list[dict] = []
    text = environ.get(ICE_SERVERS_ENV, "").strip()
    if text:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{ICE_SERVERS_ENV} is not valid JSON: {error}") from None
        if isinstance(parsed, dict) and "iceServers" in parsed:
            parsed = parsed["iceServers"]
        if not isinstance(parsed, list):
            raise ValueError(f"{ICE_SERVERS_ENV} must be a JSON list of ICE servers")
        servers.extend(_check_ice_server(server, ICE_SERVERS_ENV) for server in parsed)
    turn_url = environ.get(TURN_URL_ENV, "").strip()
    username = environ.get(TURN_USERNAME_ENV, "")
    credential = environ.get(TURN_CREDENTIAL_ENV, "")
    if turn_url:
        if bool(username) != bool(credential):
            raise ValueError(
                f"Set both {TURN_USERNAME_ENV} and {TURN_CREDENTIAL_ENV} for the TURN server "
                "(or neither)"
            )
        turn = {"urls": turn_url}
        if username:
            turn.update(username=username, credential=credential)
        servers.append(_check_ice_server(turn, TURN_URL_ENV))
    elif username or credential:
        raise ValueError(
            f"{TURN_USERNAME_ENV}/{TURN_CREDENTIAL_ENV} are set but {TURN_URL_ENV} is not"
        )
    policy = environ.get(ICE_TRANSPORT_POLICY_ENV, "").strip() or "all"
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ValueError(f"{ICE_TRANSPORT_POLICY_ENV} must be one of {ICE_TRANSPORT_POLICIES}")
    if policy == "relay" and not any(
        url.startswith(("turn:", "turns:")) for server in servers for url in server["urls"]
    ):
        raise ValueError(f"{ICE_TRANSPORT_POLICY_ENV}=relay needs a TURN server ({TURN_URL_ENV})")
    if policy == "all":
        return {"iceServers": servers}
    return {"iceServers": servers, "iceTransportPolicy": policy}


# ------------------------------------------------------------------------ frame processing


@dataclass(frozen=True)
class LiveUpdate:
    """What the worker thread tells the page about one frame."""

    t_seconds: float
    results: tuple
    frame_ms: float
    fps: float
    error: str | None = None


@dataclass
class LiveStats:
    n_frames: int = 0
    n_with_faces: int = 0
    n_updates_dropped: int = 0
    n_errors: int = 0
    last_error: str | None = None


class LiveProcessor:
    """The ``video_frame_callback``: BGR frame → recognizer → overlay, results to the page.

    One instance per browser session (kept in ``st.session_state``); the recognizer, overlay
    options and recorder are swapped by the page under a lock.
    """

    def __init__(self, queue_size: int = 32, clock=time.monotonic):
        self.updates: queue.Queue[LiveUpdate] = queue.Queue(maxsize=queue_size)
        self.stats = LiveStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._recognizer = None
        self._show_landmarks = False
        self._recorder = None
        self._record_origin: float | None = None
        self._stream_origin: float | None = None
        self._last_frame_at: float | None = None
        self._fps = 0.0

    # page thread ------------------------------------------------------------------------------

    def configure(self, recognizer, show_landmarks: bool) -> None:
        with self._lock:
            self._recognizer = recognizer
            self._show_landmarks = show_landmarks

    def start_recording(self, recorder) -> None:
        """Send results to ``recorder`` from now on; its times count from this call."""
        with self._lock:
            self._recorder = recorder
            self._record_origin = self._clock()

    def stop_recording(self):
        """Stop sending results to the recorder and return it (the caller closes it)."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        return recorder

    @property
    def recorder(self):
        with self._lock:
            return self._recorder

    def recording_time(self) -> float | None:
        """Seconds since the recording started (a marker's time); None when not recording."""
        with self._lock:
            if self._recorder is None or self._record_origin is None:
                return None
            return max(0.0, self._clock() - self._record_origin)

    # worker thread ----------------------------------------------------------------------------

    def __call__(self, frame):
        """``av.VideoFrame`` in, annotated ``av.VideoFrame`` out (streamlit-webrtc keeps pts)."""
        import av

        annotated = self.process_bgr(frame.to_ndarray(format="bgr24"))
        return av.VideoFrame.from_ndarray(annotated, format="bgr24")

    def process_bgr(self, frame_bgr: np.ndarray) -> np.ndarray:
        now = self._clock()
        with self._lock:
            recognizer, show_landmarks = self._recognizer, self._show_landmarks
            recorder, record_origin = self._recorder, self._record_origin
            if self._stream_origin is None:
                self._stream_origin = now
            t_seconds = now - self._stream_origin
            if self._last_frame_at is not None and now > self._last_frame_at:
                instant_fps = 1.0 / (now - self._last_frame_at)
                self._fps = instant_fps if self._fps == 0 else 0.9 * self._fps + 0.1 * instant_fps
            self._last_frame_at = now
            fps = self._fps
        if recognizer is None:
            return frame_bgr
        started = time.perf_counter()
        error = None
        try:
            results = tuple(recognizer.process(frame_bgr, t_seconds))
        except Exception as exception:  # shown on the page; the stream keeps running
            results, error = (), f"{type(exception).__name__}: {exception}"
        frame_ms = (time.perf_counter() - started) * 1e3
        self.stats.n_frames += 1
        self.stats.n_with_faces += bool(results)
        if recorder is not None and results:
            try:
                recorder.add(max(0.0, now - record_origin), results)
            except ValueError as exception:
                error = f"Recording: {exception}"
        if error:
            self.stats.n_errors += 1
            self.stats.last_error = error
        annotated = frame_bgr
        if results:
            annotated = draw_results(frame_bgr.copy(), results, show_landmarks)
        try:
            self.updates.put_nowait(LiveUpdate(t_seconds, results, frame_ms, fps, error))
        except queue.Full:
            self.stats.n_updates_dropped += 1
        return annotated

    def reset_clock(self) -> None:
        with self._lock:
            self._stream_origin = self._last_frame_at = None
            self._fps = 0.0


def drain(updates: queue.Queue, timeout_s: float) -> list[LiveUpdate]:
    """Wait up to ``timeout_s`` for one update, then take everything else already queued."""
    try:
        drained = [updates.get(timeout=timeout_s)]
    except queue.Empty:
        return []
    while True:
        try:
            drained.append(updates.get_nowait())
        except queue.Empty:
            return drained


# --------------------------------------------------------------------------- side panel


class LiveHistory:
    """The last ``span_s`` seconds of smoothed probabilities, for the rolling timeline, and the
    last ``trail_s`` seconds of valence and arousal, for the circumplex trail."""

    def __init__(
        self, classes: Sequence[str], span_s: float = TIMELINE_SPAN_S,
        trail_s: float = TRAIL_SPAN_S,
    ):
        self.classes = list(classes)
        self.span_s = span_s
        self.trail_s = trail_s
        self._rows: deque[tuple] = deque()
        self._trail: deque[tuple[float, int, float, float]] = deque()

    def extend(self, updates: Sequence[LiveUpdate]) -> None:
        for update in updates:
            for result in update.results:
                if len(result.smoothed) == len(self.classes):
                    self._rows.append((update.t_seconds, result.track_id, *result.smoothed))
                valence = getattr(result, "valence", None)
                arousal = getattr(result, "arousal", None)
                if valence is not None and arousal is not None:
                    self._trail.append(
                        (update.t_seconds, result.track_id, float(valence), float(arousal))
                    )
        if self._rows:
            newest = self._rows[-1][0]
            while self._rows and self._rows[0][0] < newest - self.span_s:
                self._rows.popleft()
        if updates:
            # The trail ages with the stream's clock, also while no signal arrives.
            now = max(update.t_seconds for update in updates)
            while self._trail and self._trail[0][0] < now - self.trail_s:
                self._trail.popleft()

    def trail(self, track_id: int) -> pd.DataFrame:
        """Valence and arousal of one face over the last ``trail_s`` seconds, oldest first."""
        rows = [row for row in self._trail if row[1] == track_id]
        return pd.DataFrame(rows, columns=["t_seconds", "track_id", "valence", "arousal"])

    def frame(self) -> pd.DataFrame:
        columns = ["t_seconds", "track_id"] + [f"smoothed_{name}" for name in self.classes]
        return pd.DataFrame(list(self._rows), columns=columns)

    def __len__(self) -> int:
        return len(self._rows)


def probability_bars(classes: Sequence[str], smoothed: Sequence[float], title: str) -> go.Figure:
    """Horizontal bars of one face's smoothed probabilities in the emotions' colours."""
    colours = [emotion_colour(name) for name in classes]
    figure = go.Figure(
        go.Bar(
            x=[float(value) for value in smoothed], y=list(classes), orientation="h",
            marker_color=colours, text=[f"{value:.0%}" for value in smoothed],
            textposition="auto",
        )
    )
    figure.update_layout(
        title={"text": title}, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"range": [0, 1], "tickformat": ".0%"}, yaxis={"autorange": "reversed"},
    )
    return figure


# ------------------------------------------------------------------------ clinical signals


def top_action_units(
    action_units: Mapping[str, float] | None, n: int = TOP_ACTION_UNITS,
    active_above: float = ACTIVE_AU_ABOVE,
) -> list[tuple[str, float]]:
    """The ``n`` most intense action units above ``active_above``, as (plain name, intensity)
    with names like "brow lowerer (AU4)"; empty without action units (no landmarks)."""
    from fer.realtime.signals import au_description

    if not action_units:
        return []
    active = sorted(
        ((code, float(value)) for code, value in action_units.items()
         if value is not None and float(value) > active_above),
        key=lambda item: item[1], reverse=True,
    )
    return [(au_description(code), value) for code, value in active[:n]]


def signal_lines(result) -> list[str]:
    """Plain-text lines about one face: its top action units and head pose."""
    lines = []
    if getattr(result, "action_units", None) is None:
        lines.append("Action units: not available (no face landmarks)")
    else:
        top = top_action_units(result.action_units)
        lines.append(
            "Action units: "
            + (", ".join(f"{name} {value:.0%}" for name, value in top) if top else "none active")
        )
    pose = getattr(result, "head_pose", None)
    if pose:
        lines.append(
            "Head pose: "
            + " · ".join(
                f"{name} {float(pose[name]):+.0f}°" for name in ("yaw", "pitch", "roll")
                if name in pose
            )
        )
    return lines


def circumplex_plot(trail: pd.DataFrame, title: str) -> go.Figure:
    """Valence (x) and arousal (y) of one face on the circumplex: the last seconds as a fading
    trail ending in the current point, with the expressions' reference positions."""
    from fer.realtime.signals import CIRCUMPLEX

    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[xy[0] for xy in CIRCUMPLEX.values()], y=[xy[1] for xy in CIRCUMPLEX.values()],
            mode="text", text=list(CIRCUMPLEX), textfont={"color": "grey", "size": 10},
            hoverinfo="skip", showlegend=False,
        )
    )
    if len(trail):
        figure.add_trace(
            go.Scatter(
                x=trail["valence"], y=trail["arousal"], mode="lines",
                line={"color": "rgba(31,119,180,0.4)"}, hoverinfo="skip", showlegend=False,
            )
        )
        last = trail.iloc[-1]
        figure.add_trace(
            go.Scatter(
                x=[last["valence"]], y=[last["arousal"]], mode="markers",
                marker={"size": 12, "color": "rgb(31,119,180)"}, showlegend=False,
                hovertemplate="valence %{x:.2f}<br>arousal %{y:.2f}<extra></extra>",
            )
        )
    figure.update_layout(
        title={"text": title}, height=280, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"range": [-1.05, 1.05], "title": {"text": "valence"}, "zeroline": True},
        yaxis={"range": [-1.05, 1.05], "title": {"text": "arousal"}, "zeroline": True},
    )
    return figure
