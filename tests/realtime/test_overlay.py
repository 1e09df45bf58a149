from types import SimpleNamespace

import numpy as np

from fer.realtime.overlay import caption, draw_results
from fer.realtime.tracking import face_name


def test_the_overlay_names_a_face_as_the_pages_do():
    result = SimpleNamespace(
        track_id=1, label="happy", confidence=0.8, bbox=(10, 30, 40, 40), landmarks=None
    )
    assert caption(result) == "Face 1: happy 80%"
    assert caption(result).startswith(face_name(1))
    frame = np.zeros((120, 160, 3), np.uint8)
    draw_results(frame, [result])
    assert frame.any()  # the box and its caption were drawn
