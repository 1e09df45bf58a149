import numpy as np
import pytest

from fer.realtime.tracking import FaceTracker, TrackerConfig, iou


def ids(tracks) -> list[int]:
    return [track.track_id for track in tracks]


def test_iou_of_simple_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_ids_stay_stable_while_a_face_moves():
    tracker = FaceTracker()
    seen = [ids(tracker.update([(100 + 3 * i, 50, 80, 80)], i / 30))[0] for i in range(30)]
    assert seen == [1] * 30


def test_two_faces_keep_their_ids_when_detection_order_swaps():
    tracker = FaceTracker()
    left, right = (10, 10, 60, 60), (300, 10, 60, 60)
    assert ids(tracker.update([left, right], 0.0)) == [1, 2]
    assert ids(tracker.update([right, left], 0.04)) == [2, 1]


def test_new_face_gets_new_id():
    tracker = FaceTracker()
    tracker.update([(10, 10, 60, 60)], 0.0)
    assert ids(tracker.update([(10, 12, 60, 60), (300, 10, 60, 60)], 0.04)) == [1, 2]


def test_fast_move_without_overlap_is_matched_by_centre():
    tracker = FaceTracker(TrackerConfig(max_centre_shift=0.8))
    tracker.update([(100, 100, 50, 50)], 0.0)
    assert ids(tracker.update([(135, 100, 50, 50)], 0.04)) == [1]  # IoU 0.18 < 0.3
    assert ids(tracker.update([(400, 100, 50, 50)], 0.08)) == [2]  # too far: someone else


def test_track_times_out():
    tracker = FaceTracker(TrackerConfig(timeout_s=1.0, min_missed_frames=1))
    tracker.update([(10, 10, 60, 60)], 0.0)
    tracker.update([], 0.5)
    assert ids(tracker.update([(10, 10, 60, 60)], 0.9)) == [1]  # unseen 0.9 s: kept
    tracker.update([], 1.5)
    assert ids(tracker.update([(10, 10, 60, 60)], 2.0)) == [2]  # unseen 1.1 s: new id
    assert len(tracker.tracks) == 1


def test_low_frame_rate_keeps_the_id_until_frames_are_missed_too():
    # A loaded machine processing one frame every 1.5 s: the face is the same person throughout.
    tracker = FaceTracker(TrackerConfig(timeout_s=1.0, min_missed_frames=3))
    seen = [ids(tracker.update([(100 + i, 50, 80, 80)], 1.5 * i))[0] for i in range(6)]
    assert seen == [1] * 6
    # Gone for two processed frames (3 s): still the same track when it comes back...
    tracker.update([], 9.0)
    tracker.update([], 10.5)
    assert ids(tracker.update([(106, 50, 80, 80)], 12.0)) == [1]
    # ...gone for three frames and longer than the timeout: a new id.
    for t_s in (13.5, 15.0, 16.5):
        tracker.update([], t_s)
    assert ids(tracker.update([(106, 50, 80, 80)], 18.0)) == [2]
    assert len(tracker.tracks) == 1


def test_each_track_owns_its_state_and_reset_restarts_ids():
    tracker = FaceTracker(make_state=list)
    first, second = tracker.update([(0, 0, 50, 50), (200, 0, 50, 50)], 0.0)
    assert first.state is not second.state
    tracker.reset()
    assert ids(tracker.update([(0, 0, 50, 50)], 0.1)) == [1]


def test_time_going_backwards_starts_fresh():
    tracker = FaceTracker()
    tracker.update([(0, 0, 50, 50)], 5.0)
    assert ids(tracker.update([(0, 0, 50, 50)], 0.0)) == [1]
    assert len(tracker.tracks) == 1


def test_box_steadying_reduces_jitter_but_follows_big_moves():
    rng = np.random.default_rng(0)
    tracker = FaceTracker(TrackerConfig(box_half_life_s=0.1, snap_iou=0.7))
    raw, shown = [], []
    for i in range(60):
        box = np.array([200, 100, 120, 120]) + rng.normal(0, 3, 4)
        raw.append(box)
        shown.append(tracker.update([box], i / 30)[0].bbox)
    assert np.std(np.array(shown)[10:], axis=0).mean() < 0.6 * np.std(np.array(raw), axis=0).mean()
    jumped = tracker.update([(230, 100, 120, 120)], 2.0)[0]
    assert jumped.track_id == 1  # IoU about 0.5: the same face ...
    assert jumped.bbox == (230, 100, 120, 120)  # ... but below snap_iou, so no lag behind it


def test_a_stream_that_lowers_its_resolution_keeps_its_faces_ids():
    tracker = FaceTracker()
    left, right = (100, 100, 120, 120), (900, 120, 110, 110)
    assert ids(tracker.update([left, right], 0.0, (1280, 720))) == [1, 2]
    halved = [tuple(v / 2 for v in box) for box in (right, left)]
    assert ids(tracker.update(halved, 0.07, (640, 360))) == [2, 1]
    assert ids(tracker.update([right, left], 0.13, (1280, 720))) == [2, 1]
    assert tracker.tracks[0].raw_box == pytest.approx(np.array(left, float))


@pytest.mark.parametrize("t_s", [float("nan"), float("inf")])
def test_a_time_that_is_not_a_number_is_refused(t_s):
    # Taken, it would stamp the track with a time no later frame can time out against.
    tracker = FaceTracker()
    tracker.update([(0, 0, 50, 50)], 0.0)
    with pytest.raises(ValueError, match="t_s"):
        tracker.update([(0, 0, 50, 50)], t_s)
    assert tracker.tracks[0].last_seen_s == 0.0 and tracker.tracks[0].n_frames == 1


@pytest.mark.parametrize(
    "name", ["iou_threshold", "max_centre_shift", "timeout_s", "box_half_life_s", "snap_iou"]
)
def test_a_setting_that_is_not_a_number_is_named(name):
    with pytest.raises(ValueError, match=name):
        TrackerConfig(**{name: float("nan")})
