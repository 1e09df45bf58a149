"""Analyse images, videos and folders offline: expressions, action units, valence/arousal and
head pose for every face in every analysed frame.

Writes OUT/frames.csv (one row per face per frame: source, time_s, track_id, label, confidence,
p_<class> per class, valence, arousal, one column per action unit, yaw, pitch, roll) and
OUT/summary.json (per source: frames analysed, notes such as a video that ends early, and the
session insights of each face). The figures describe faces; they are not diagnoses. Both files
are readable by their owner only and are written whole or not at all: a run that cannot write
them replaces no earlier file and stores nothing. The files of an earlier run in OUT are
replaced only with --overwrite.

With --record --consented-by NAME [--client CODE] the person's consent is recorded first (as on
the app's pages), then each analysed file is stored as a session in the session database
(--database, default $FER_SESSION_DB, else data/sessions.db) and summary.json names its
session_id. The name goes into the consent record only, never into OUT.

Exit status: 0 when every input was analysed (and stored) and some face was found; 1 when the
files were written but an input failed or was not stored, or no input showed a face; 2 when
nothing was written or stored.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from fer.cli.landmarker_option import check_landmarker
from fer.models.cards import recorded_model_label
from fer.models.inference import PIPELINE_TTA, TTA_CHOICES

EXAMPLE = """\
fer analyze interview.mp4 photos/ --out results/
fer analyze session.mp4 --out results/ --stride 3 --model fer2013 --overwrite
fer analyze session.mp4 --out results/ --record --consented-by "Dana Client" --client C-17"""
# Options whose values stay out of summary.json: a person's name, a URL with a password.
WITHHELD_OPTIONS = ("--consented-by", "--database")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, help="image or video files, or folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for the two files")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the frames.csv and summary.json of an earlier run in --out")
    parser.add_argument("--model", default=None, help="model name or directory (default: the "
                        "Live page's)")
    parser.add_argument("--stride", type=int, default=1, help="analyse every N-th video frame")
    parser.add_argument("--max-faces", type=int, default=4, help="faces per frame")
    parser.add_argument("--tta", choices=TTA_CHOICES, default=PIPELINE_TTA,
                        help="test-time views averaged per face")
    parser.add_argument("--landmarker", type=Path,
                        help="face_landmarker.task (default: $FER_DATA_DIR, then data/; "
                        "without one, OpenCV's Haar detector is used and a note says so)")
    recording = parser.add_argument_group("storing the analysis as sessions")
    recording.add_argument("--record", action="store_true",
                           help="store each analysed file as a session (needs --consented-by)")
    recording.add_argument("--consented-by", metavar="NAME",
                           help="the person who consented to this analysis being stored")
    recording.add_argument("--client", metavar="CODE",
                           help="the person's pseudonymous client code")
    recording.add_argument("--owner", metavar="USER",
                           help="the clinician's account that owns the sessions (default: none, "
                           "so only admins see them)")
    recording.add_argument(
        "--database", default=None, metavar="LOCATION",
        help="session database, a file or a postgresql:// URL (default: $FER_SESSION_DB, else "
        "data/sessions.db)",
    )


def check_output_dir(out: Path, overwrite: bool = False) -> None:
    """Check, before anything is analysed or stored, that ``frames.csv`` and ``summary.json``
    can be written into the folder ``out`` and, unless ``overwrite``, replace no earlier run's;
    ``ValueError`` naming what stands in the way.

    The folder itself is made only when there is something to write into it."""
    from fer.realtime.analysis import output_paths

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    in_the_way = [path for path in output_paths(out) if path.exists() and not path.is_file()]
    if in_the_way:
        raise ValueError(
            f"{', '.join(map(str, in_the_way))} is not a file: move it away or choose another "
            "--out"
        )
    earlier = [path.name for path in output_paths(out) if path.exists()]
    if earlier and not overwrite:
        raise ValueError(
            f"--out {out} already holds {' and '.join(earlier)} of an earlier run; give "
            "--overwrite to replace them, or choose another --out"
        )
    folder = nearest_existing_folder(out)
    if not folder.is_dir():
        raise ValueError(f"--out {out} cannot be made: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} cannot be written: {folder} is not writable")


def nearest_existing_folder(out: Path) -> Path:
    """``out`` if it exists, else its nearest existing parent (what a failed run leaves)."""
    return next(path for path in (out, *out.parents) if path.exists())


def remove_folders_made(out: Path, existing: Path) -> None:
    """Remove ``out`` and its parents up to ``existing`` that are still empty: a run that
    wrote nothing leaves no folder behind."""
    for folder in (out, *out.parents):
        if folder == existing:
            return
        try:
            folder.rmdir()
        except OSError:  # not empty, or not ours to remove
            return


def withheld_command(command_line: str) -> str:
    """The command line with the values of :data:`WITHHELD_OPTIONS` replaced by ``...``."""
    words = shlex.split(command_line)
    for index, word in enumerate(words):
        for option in WITHHELD_OPTIONS:
            if word == option and index + 1 < len(words):
                words[index + 1] = "..."
            elif word.startswith(f"{option}="):
                words[index] = f"{option}=..."
    return shlex.join(words)


class Recording:
    """Where and under which consent the analyses are stored (``fer analyze --record``)."""

    def __init__(self, args: argparse.Namespace):
        from fer.accounts import AccountStore
        from fer.cli.database_options import cli_actor
        from fer.config import DEFAULT_SESSION_DB
        from fer.sessions.schema import MAX_NAME_LENGTH
        from fer.sessions.store import SessionStore
        from fer.storage.text_fields import validate_text

        location = args.database or os.environ.get("FER_SESSION_DB") or str(DEFAULT_SESSION_DB)
        self.store = SessionStore(location)
        self.actor = cli_actor()
        self.owner_id = None
        if args.owner:
            owner = AccountStore(location).get_user_by_name(args.owner)
            if not owner.sees_patient_data or owner.disabled_at is not None:
                raise ValueError(f"{owner.name} may not hold patient data (reviewer or disabled)")
            self.owner_id = owner.id
        # The consent's own checks, before anything is analysed: a name it would refuse
        # stops the run at once.
        self.consented_by = validate_text(
            args.consented_by, "The name of the person consenting", MAX_NAME_LENGTH, True
        )
        self.client_code = args.client
        if args.client is not None:
            validate_text(args.client, "client_code", MAX_NAME_LENGTH, False)
        self.given_at = datetime.now(UTC)  # consent as this run starts, before any analysis
        self.consent_id: int | None = None

    def _consent(self) -> int:
        """The consent the sessions are stored under, recorded with the first of them: a run
        whose every input fails stores nothing about the person."""
        if self.consent_id is None:
            consent = self.store.record_consent(
                self.consented_by, given_at=self.given_at, client_code=self.client_code,
                actor=self.actor,
            )
            self.consent_id = consent.id
        return self.consent_id

    def store_analysis(self, analysis, model_label: str, classes) -> None:
        from fer.realtime.analysis import record_analysis

        record_analysis(
            self.store,
            self._consent() if analysis.records else None,  # no face: no consent stored either
            analysis, model_label, classes, self.owner_id, actor=self.actor,
        )


def run(args: argparse.Namespace) -> int:
    import cv2
    from tqdm.auto import tqdm

    from fer.realtime.analysis import analyse_source, expand_sources, write_outputs
    from fer.realtime.pipeline import DEFAULT_MODEL, EmotionRecognizer
    from fer.realtime.smoothing import SmoothingConfig
    from fer.storage import DatabaseError

    if args.stride < 1 or args.max_faces < 1:
        print("error: --stride and --max-faces must be at least 1", file=sys.stderr)
        return 2
    if args.record != (args.consented_by is not None) or (
        not args.record and (args.client or args.owner)
    ):
        print("error: --record needs --consented-by NAME, and --consented-by, --client and "
              "--owner need --record", file=sys.stderr)
        return 2
    try:
        check_output_dir(args.out, args.overwrite)  # before anything is analysed, stored or made
        sources = expand_sources(args.paths)
        if args.landmarker is not None:
            check_landmarker(args.landmarker)
        from fer.models.inference import load_model

        model = load_model(args.model or DEFAULT_MODEL)
        # Checked first; the consent is recorded with the first session stored.
        recording = Recording(args) if args.record else None
    except (ValueError, FileNotFoundError, PermissionError, DatabaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model_label = recorded_model_label(model, args.tta)
    classes = list(model.classes)

    def make_recognizer(kind: str, max_faces: int) -> EmotionRecognizer:
        # A still image has no history to smooth; the uncertain threshold still applies.
        smoothing = SmoothingConfig(method="none", min_dwell_s=0) if kind == "image" else None
        return EmotionRecognizer(
            model=model, smoothing=smoothing, max_faces=max_faces,
            landmarker_path=args.landmarker, tta=args.tta,
        )

    analyses, failures = [], []
    with tqdm(desc="frames", unit="frame") as progress:
        for path in tqdm(sources, desc="files", unit="file"):
            try:
                analysis = analyse_source(
                    path, make_recognizer, args.stride, lambda: progress.update(),
                    keep_records=args.record, max_faces=args.max_faces,
                )
            except (ValueError, OSError, cv2.error) as error:  # this file; the others go on
                failures.append(f"{path}: {type(error).__name__}: {error}")
                continue
            analyses.append(analysis)
    if not analyses:  # nothing to write: the outputs of an earlier run stay as they were
        print_problems(analyses, failures)
        return 2
    extra = {"model": model.name, "tta": args.tta, "stride": args.stride,
             "command": withheld_command(args.command_line), "failed": failures}

    def store_sessions() -> None:
        # Called once both files are written beside their names: a file that cannot be
        # written stores nothing, and summary.json names the sessions stored.
        if recording is None:
            return
        for analysis in analyses:
            try:
                recording.store_analysis(analysis, model_label, classes)
            except ValueError as error:  # refused by the store: nothing stored for it
                failures.append(f"{analysis.source}: not stored: {error}")
        extra["consent_id"] = recording.consent_id

    existing = nearest_existing_folder(args.out)
    try:
        frames_path, summary_path = write_outputs(
            analyses, classes, args.out, extra, store_sessions
        )
    except (OSError, DatabaseError) as error:
        remove_folders_made(args.out, existing)
        print_problems(analyses, failures)
        stored = [str(analysis.session_id) for analysis in analyses if analysis.session_id]
        what = (
            f"the results could not be written into {args.out} ({error})"
            if isinstance(error, OSError)
            else f"the session database failed ({error})"
        )
        kept = f"sessions {', '.join(stored)} were stored" if stored else "nothing was stored"
        print(f"error: {what}; no earlier result was replaced and {kept}", file=sys.stderr)
        return 2
    print_problems(analyses, failures)
    print(f"{frames_path}\n{summary_path}")
    # The files are written all the same: summary.json says what was analysed and why no
    # face may have been found (a detector note, a video that ended early).
    no_face = all(analysis.frames.empty for analysis in analyses)
    if no_face:
        print("error: no face was found in any input", file=sys.stderr)
    return 1 if failures or no_face else 0


def print_problems(analyses, failures: list[str]) -> None:
    """The analyses' notes, then the inputs that failed, on standard error."""
    for analysis in analyses:
        for note in analysis.notes:
            print(f"note: {note}", file=sys.stderr)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
