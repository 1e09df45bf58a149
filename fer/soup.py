"""Weight soups: average two models of one training lineage, recompute batch norm, publish.

The shipped ``ferplus`` model continues the run that produced ``fer2013`` (a 22-epoch warm
restart), so their backbones lie close together in weight space and a weighted average of the two
is itself a working model ("model soups", Wortsman et al., 2022). Each candidate is

    backbone = share * first + (1 - share) * second    (layer by layer, same names)
    head     = the head of the ingredient trained for the label set

followed by recomputing the batch-norm statistics on un-augmented Training faces
(:func:`fer.models.recalibrate_batch_norm`): averaged weights do not match averaged statistics,
and the statistics training accumulated on augmented faces fit plain faces less well anyway.
The share is chosen per label set on PublicTest accuracy; PrivateTest is evaluated only for the
chosen model, when it is published. The soup owes the training time of both ingredients and of
its own search, which its card's wall time includes.

    python -m fer.soup fer2013 ferplus --output-dir runs/soup
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer.data import FaceDataset, load_dataset
from fer.inference import CARD_FILE, KERAS_FILE, resolve_model_dir
from fer.run_state import merge_stages, published_stages

DEFAULT_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Ingredient:
    name: str
    model_dir: Path
    card: dict

    @property
    def label_set(self) -> str:
        return self.card["label_set"]


def load_ingredient(name_or_path: str) -> Ingredient:
    model_dir = resolve_model_dir(name_or_path)
    card = json.loads((model_dir / CARD_FILE).read_text())
    return Ingredient(card.get("name", model_dir.name), model_dir, card)


def _load_keras(ingredient: Ingredient):
    import keras

    import fer.preprocess  # noqa: F401  (registers PerFaceStandardization for loading)

    return keras.models.load_model(ingredient.model_dir / KERAS_FILE, compile=False)


def shared_layer_names(first, second) -> list[str]:
    """Weighted layers both models have (the backbone), checked to have equal shapes.

    Raises ``ValueError`` when the models do not share a backbone, e.g. two architectures.
    """
    from fer.models import layers_by_name

    first_layers, second_layers = layers_by_name(first), layers_by_name(second)
    shared = [name for name in first_layers if name in second_layers]
    first_only = sorted(set(first_layers) - set(shared))
    second_only = sorted(set(second_layers) - set(shared))
    # Each model may have its own head; anything more means different backbones.
    if not shared or len(first_only) > 1 or len(second_only) > 1:
        raise ValueError(
            f"the models do not share a backbone: only in the first {first_only}, "
            f"only in the second {second_only}"
        )
    for name in shared:
        shapes = [
            [w.shape for w in layers[name].get_weights()]
            for layers in (first_layers, second_layers)
        ]
        if shapes[0] != shapes[1]:
            raise ValueError(f"layer {name!r} differs in shape: {shapes[0]} vs {shapes[1]}")
    return shared


def blend_weights(target, first, second, share: float, names: list[str]) -> None:
    """Set ``target``'s layers ``names`` to ``share * first + (1 - share) * second``."""
    from fer.models import layers_by_name

    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be within 0..1; got {share}")
    target_layers = layers_by_name(target)
    first_layers, second_layers = layers_by_name(first), layers_by_name(second)
    for name in names:
        target_layers[name].set_weights(
            [
                share * a + (1.0 - share) * b
                for a, b in zip(
                    first_layers[name].get_weights(),
                    second_layers[name].get_weights(),
                    strict=True,
                )
            ]
        )


def soup_candidate(head_model, first, second, share: float, names, training_faces):
    """A copy of ``head_model`` with its backbone blended and batch norm recomputed on
    ``training_faces`` (``None`` keeps the blended statistics, for comparisons)."""
    import keras

    from fer.models import recalibrate_batch_norm

    candidate = keras.models.clone_model(head_model)
    candidate.set_weights(head_model.get_weights())
    blend_weights(candidate, first, second, share, names)
    if training_faces is not None:
        recalibrate_batch_norm(candidate, training_faces)
    return candidate


def publictest_accuracy(keras_model, dataset: FaceDataset) -> float:
    test = dataset.split("PublicTest")
    probabilities = keras_model.predict(
        test.images[..., None].astype(np.float32), batch_size=512, verbose=0
    )
    return float((probabilities.argmax(axis=1) == test.labels).mean())


def search_shares(
    first: Ingredient,
    second: Ingredient,
    datasets: dict[str, FaceDataset],
    shares=DEFAULT_SHARES,
    log=print,
) -> tuple[dict, dict]:
    """PublicTest accuracy of every share for each label set whose head an ingredient has.

    Returns ``(table, chosen)``: ``table[label_set][share]`` accuracy and
    ``chosen[label_set]`` the ``(share, model)`` of the best candidate (highest PublicTest
    accuracy, the first on ties), its batch norm recomputed on the label set's Training faces.
    """
    first_model, second_model = _load_keras(first), _load_keras(second)
    names = shared_layer_names(first_model, second_model)
    heads = {first.label_set: first_model, second.label_set: second_model}
    missing = sorted(set(datasets) - set(heads))
    if missing:
        raise ValueError(f"neither ingredient has a head for {missing}")
    # Each label set's own Training faces: the ones publish_weights would recalibrate on.
    training_faces = {key: dataset.split("Training").images for key, dataset in datasets.items()}
    table = {key: {} for key in datasets}
    best: dict[str, tuple[float, float, object]] = {}
    for share in shares:
        for key, dataset in datasets.items():
            candidate = soup_candidate(
                heads[key], first_model, second_model, share, names, training_faces[key]
            )
            accuracy = publictest_accuracy(candidate, dataset)
            table[key][share] = accuracy
            log(f"share {share:.2f} of {first.name}: {key} PublicTest {100 * accuracy:.2f} %")
            if key not in best or accuracy > best[key][0]:
                best[key] = (accuracy, share, candidate)
    return table, {key: (share, model) for key, (_, share, model) in best.items()}


def main(argv: list[str] | None = None) -> int:
    from fer.config import MODELS_DIR, data_dir_from_env
    from fer.inference import ModelNotFoundError
    from fer.modelcard import publish_weights
    from fer.train import _git_commit

    parser = argparse.ArgumentParser(
        prog="python -m fer.soup",
        description="Average two models of one lineage, choose the share on PublicTest, publish",
    )
    parser.add_argument("first", help="model name under models/ or a model directory")
    parser.add_argument("second", help="the other ingredient (same architecture)")
    parser.add_argument(
        "--labels",
        default="",
        help="label sets to publish, joined by '+' (default: both ingredients' label sets)",
    )
    parser.add_argument(
        "--shares",
        default=",".join(str(s) for s in DEFAULT_SHARES),
        help="comma-separated shares of the first ingredient to try (0..1)",
    )
    parser.add_argument("--output-dir", type=Path, default=MODELS_DIR.parent / "runs" / "soup")
    args = parser.parse_args(argv)
    command = "python -m fer.soup " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    try:
        shares = tuple(float(share) for share in args.shares.split(","))
        first, second = load_ingredient(args.first), load_ingredient(args.second)
        if first.card.get("architecture") != second.card.get("architecture"):
            raise ValueError(
                f"{first.name} is {first.card.get('architecture')}, "
                f"{second.name} is {second.card.get('architecture')}: no common backbone"
            )
        label_sets = args.labels.split("+") if args.labels else [first.label_set, second.label_set]
        data_dir = data_dir_from_env()
        datasets = {key: load_dataset(key, data_dir) for key in dict.fromkeys(label_sets)}
        table, chosen_models = search_shares(first, second, datasets, shares)
    except (ModelNotFoundError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    search_seconds = time.perf_counter() - started
    stages = merge_stages(published_stages(first.model_dir), published_stages(second.model_dir))
    stages.append(
        {
            "run_dir": str(args.output_dir),
            "command": command,
            "epochs": 0,
            "wall_time_s": round(search_seconds, 1),
        }
    )
    for key, (chosen, keras_model) in chosen_models.items():
        head_card = first.card if first.label_set == key else second.card
        training = {
            **{
                field: head_card["training"][field]
                for field in ("heads_trained_jointly", "config", "seed")
            },
            "command": command,
            "git_commit": _git_commit(),
            "soup": {
                "ingredients": [first.name, second.name],
                "head_from": head_card["name"],
                "share_of_first": chosen,
                "publictest_accuracy_by_share": {
                    str(share): accuracy for share, accuracy in table[key].items()
                },
                "selected_on": "PublicTest accuracy (Keras, after batch-norm recalibration)",
            },
            "selected_publictest_accuracy": table[key][chosen],
            "wall_time_s": round(sum(stage["wall_time_s"] for stage in stages), 1),
            "stages": stages,
        }
        publish_weights(
            keras_model,
            args.output_dir / key,
            key,
            key,
            head_card["architecture"],
            training,
            data_dir,
            batch_norm_recomputed=True,  # by the search, on the same faces
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
