"""Weight soups: average two models of one training lineage, recompute batch norm, publish.

The shipped ``ferplus`` model continues the run that produced ``fer2013`` (a 22-epoch warm
restart), so their backbones lie close together in weight space and a weighted average of the two
is itself a working model ("model soups", Wortsman et al., 2022). Each candidate is

    backbone = share * first + (1 - share) * second    (layer by layer, same names)
    head     = the head of the ingredient trained for the label set (blended like the
               backbone when both ingredients were trained for it)

followed by recomputing the batch-norm statistics on un-augmented Training faces
(:func:`fer.models.zoo.recalibrate_batch_norm`): averaged weights do not match averaged statistics,
and the statistics training accumulated on augmented faces fit plain faces less well anyway.
The share is chosen per label set on PublicTest accuracy; PrivateTest is evaluated only for the
chosen model, when it is published. The soup owes the training time of both ingredients and of
its own search, which its card's wall time includes.

    fer soup fer2013 ferplus --output-dir runs/soup
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fer.data.datasets import FaceDataset, load_dataset
from fer.models.cards import (
    KERAS_FILE,
    SOUP_HEAD_BLENDED,
    card_label_set,
    read_card,
    resolve_model_dir,
)
from fer.training.run_state import merge_stages, published_stages
from fer.training.selection import publictest_accuracy

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
    card = read_card(model_dir)
    card_label_set(card, model_dir)
    return Ingredient(str(card.get("name") or model_dir.name), model_dir, card)


def check_shares(shares) -> tuple[float, ...]:
    """``shares`` if each is a share of the first ingredient in 0..1 (``ValueError`` if not)."""
    shares = tuple(shares)
    if not shares:
        raise ValueError("--shares needs at least one share")
    outside = [share for share in shares if not 0.0 <= share <= 1.0]  # NaN too
    if outside:
        raise ValueError(f"--shares must lie in 0..1 (the first ingredient's part): {outside}")
    return shares


def _load_keras(ingredient: Ingredient):
    import keras

    import fer.data.preprocess  # noqa: F401  (registers PerFaceStandardization for loading)

    return keras.models.load_model(ingredient.model_dir / KERAS_FILE, compile=False)


def shared_layer_names(first, second) -> list[str]:
    """Weighted layers both models have (the backbone), checked to have equal shapes.

    Raises ``ValueError`` when the models do not share a backbone, e.g. two architectures.
    """
    from fer.models.zoo import layers_by_name

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
    from fer.models.zoo import layers_by_name

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

    from fer.models.zoo import recalibrate_batch_norm

    candidate = keras.models.clone_model(head_model)
    candidate.set_weights(head_model.get_weights())
    blend_weights(candidate, first, second, share, names)
    if training_faces is not None:
        recalibrate_batch_norm(candidate, training_faces)
    return candidate


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
    # Each label set's own Training faces: the ones write_model would recalibrate on.
    training_faces = {key: dataset.split("Training").images for key, dataset in datasets.items()}
    table: dict[str, dict[float, float]] = {key: {} for key in datasets}
    best: dict[str, tuple[float, float, object]] = {}
    from tqdm.auto import tqdm

    for share in tqdm(shares, desc="soup shares", unit="share"):
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


def soup_training_record(
    first: Ingredient, second: Ingredient, key: str, chosen: float, table: dict, stages: list,
    command: str,
) -> dict:
    """The card's ``training`` record of the soup published for label set ``key``."""
    from fer.provenance import git_commit

    head_card = first.card if first.label_set == key else second.card
    return {
        **{
            field: head_card["training"][field]
            for field in ("heads_trained_jointly", "config", "seed")
        },
        "command": command,
        "git_commit": git_commit(),
        "soup": {
            "ingredients": [first.name, second.name],
            # Ingredients of one label set share the head's layer too, which is then blended
            # like the backbone: no single ingredient's head.
            "head_from": (
                SOUP_HEAD_BLENDED if first.label_set == second.label_set else head_card["name"]
            ),
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


def publish_soups(
    first_name: str,
    second_name: str,
    label_sets: list[str],
    shares: tuple[float, ...] | None,
    output_dir: Path,
    data_dir: Path,
    command: str,
    replace: bool = False,
) -> dict[str, float]:
    """Search the shares, then publish one soup per label set under ``output_dir/<label set>``,
    all or none (an existing model there is overwritten only with ``replace``).

    ``label_sets`` empty means both ingredients' label sets. Returns the chosen share per label
    set; ``shares`` None tries :data:`DEFAULT_SHARES`. Ingredients of different architectures
    are a ``ValueError``; a soup that cannot be published is a
    :class:`fer.training.publish.PublicationError` naming it, and then none is published.
    """
    from fer.training.model_folders import check_model_destinations
    from fer.training.publish import publish_together, write_model

    started = time.perf_counter()
    first, second = load_ingredient(first_name), load_ingredient(second_name)
    if first.card.get("architecture") != second.card.get("architecture"):
        raise ValueError(
            f"{first.name} is {first.card.get('architecture')}, "
            f"{second.name} is {second.card.get('architecture')}: no common backbone"
        )
    label_sets = list(dict.fromkeys(label_sets or [first.label_set, second.label_set]))
    unknown = [key for key in label_sets if key not in (first.label_set, second.label_set)]
    if unknown:
        raise ValueError(
            f"--labels {'+'.join(unknown)}: neither {first.name} ({first.label_set}) nor "
            f"{second.name} ({second.label_set}) has that head"
        )
    shares = check_shares(shares or DEFAULT_SHARES)
    # Before the search: a soup that cannot be published would waste it.
    check_model_destinations(output_dir, label_sets, replace)
    datasets = {key: load_dataset(key, data_dir) for key in dict.fromkeys(label_sets)}
    table, chosen_models = search_shares(first, second, datasets, shares)
    stages = merge_stages(published_stages(first.model_dir), published_stages(second.model_dir))
    stages.append(
        {
            "run_dir": str(output_dir),
            "command": command,
            "epochs": 0,
            "wall_time_s": round(time.perf_counter() - started, 1),
        }
    )

    def soup_writer(key: str, chosen: float, keras_model) -> Callable[[Path], tuple[dict, dict]]:
        def write(work: Path) -> tuple[dict, dict]:
            head_card = first.card if first.label_set == key else second.card
            training = soup_training_record(first, second, key, chosen, table, stages, command)
            return write_model(
                keras_model,
                work,
                key,
                key,
                head_card["architecture"],
                training,
                data_dir,
                batch_norm_recomputed=True,  # by the search, on the same faces
            )

        return write

    # All or none: a second soup that cannot be published must not leave the first published
    # (or, with --replace, the first old model overwritten).
    writers = [
        (f"the {key} soup", soup_writer(key, chosen, keras_model))
        for key, (chosen, keras_model) in chosen_models.items()
    ]
    publish_together(writers, [output_dir / key for key in chosen_models], "the soups", replace)
    return {key: chosen for key, (chosen, _) in chosen_models.items()}
