"""A face's readout, as the Live page and the clinician's Session room view show it: the headline,
the smoothed probability bars, the clinical signals (top action units, head pose, valence and
arousal) with the valence/arousal trail, and the recent history they are drawn from."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from fer.evaluation.plots import emotion_colour
from fer.realtime.tracking import face_name
from ui.live import LiveUpdate

TIMELINE_SPAN_S = 30.0
TRAIL_SPAN_S = 10.0
TOP_ACTION_UNITS = 3
ACTIVE_AU_ABOVE = 0.1
PROBABILITY_TICKS = (0.0, 0.5, 1.0)


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
            newest = self._newest_t()
            if newest is not None and update.t_seconds < newest:
                # The stream's clock started again (the camera was paused and turned back
                # on): what came before belongs to another stretch and would show as recent.
                self._rows.clear()
                self._trail.clear()
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

    def _newest_t(self) -> float | None:
        times = [kept[-1][0] for kept in (self._rows, self._trail) if kept]
        return max(times) if times else None

    def trail(self, track_id: int) -> pd.DataFrame:
        """Valence and arousal of one face over the last ``trail_s`` seconds, oldest first."""
        rows = [row for row in self._trail if row[1] == track_id]
        return pd.DataFrame(rows, columns=["t_seconds", "track_id", "valence", "arousal"])

    def frame(self) -> pd.DataFrame:
        columns = ["t_seconds", "track_id"] + [f"smoothed_{name}" for name in self.classes]
        return pd.DataFrame(list(self._rows), columns=columns)

    def __len__(self) -> int:
        return len(self._rows)


def percent(share: float) -> str:
    """A probability as the page writes it in the headline and on the bars: "62%"."""
    return f"{float(share):.0%}"


def shown_share(result, classes: Sequence[str]) -> float:
    """The smoothed probability behind the headline's label: the label's own bar, or the
    tallest bar while the label reads "uncertain"."""
    smoothed = [float(value) for value in result.smoothed]
    if result.label in classes:
        return smoothed[list(classes).index(result.label)]
    return max(smoothed)


def headline(result, classes: Sequence[str], unreliable: Collection[str] = ()) -> str:
    """One face's label line, e.g. "happy · 62% · Face 1", read from ``result.smoothed`` so
    that it always matches the bars drawn from the same result; a label in ``unreliable`` (the
    model's unreliable expressions) says to read it with caution, and so does a face too
    bright to be read reliably (``result.overexposed``)."""
    share = percent(shown_share(result, classes))
    caution = " · read with caution" if result.label in unreliable else ""
    if getattr(result, "overexposed", False):
        caution += " · face too bright: less reliable"
    return f"{result.label} · {share} · {face_name(result.track_id)}{caution}"


def probability_bars(classes: Sequence[str], smoothed: Sequence[float], title: str) -> go.Figure:
    """Horizontal bars of one face's smoothed probabilities in the emotions' colours, on a fixed
    0-100 % axis, each row labelled with its value (0 % included)."""
    colours = [emotion_colour(name) for name in classes]
    values = [float(value) for value in smoothed]
    figure = go.Figure(
        go.Bar(
            x=values, y=list(classes), orientation="h", marker_color=colours,
            text=[percent(value) for value in values], textposition="outside",
            # Outside labels of long bars run past 100 %: draw them in the margin instead of
            # shrinking or hiding them.
            cliponaxis=False, constraintext="none", textfont={"size": 11},
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": title}, height=280, margin={"l": 10, "r": 48, "t": 40, "b": 10},
        xaxis={
            "range": [0, 1], "tickmode": "array", "tickvals": list(PROBABILITY_TICKS),
            "ticktext": [percent(value) for value in PROBABILITY_TICKS], "fixedrange": True,
        },
        yaxis={
            "autorange": "reversed", "tickmode": "array", "tickvals": list(classes),
            "fixedrange": True,
        },
        showlegend=False,
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
