"""Weight soups (fer.training.soup): the blend, the backbone check, and `fer soup` end to end
on tiny data."""

import json
from pathlib import Path

import numpy as np
import pytest

from fer.cli import main as fer_main
from fer.emotions import CLASS_SETS
from fer.evaluation.evaluate import PUBLISHED_VIEWS
from fer.evaluation.evaluation_file import find_report, read_evaluation
from fer.models.zoo import build_classifier
from fer.training.soup import blend_weights, shared_layer_names
from tests.research_fixtures import folder_bytes
from tests.training.test_loop import _tiny_fer2013
from tests.training.test_publish import ferplus_head_fails  # noqa: F401 (a fixture)


def _two_models(architecture="fernet", heads=("fer2013", "fer2013")):
    import keras

    models = []
    for seed, head in enumerate(heads):
        keras.utils.set_random_seed(seed)
        models.append(build_classifier(architecture, 7 if head == "fer2013" else 8, name=head))
    return models


def test_blend_is_the_weighted_average_of_every_shared_layer():
    import keras

    first, second = _two_models()
    target = keras.models.clone_model(first)
    target.set_weights(first.get_weights())
    names = shared_layer_names(first, second)
    blend_weights(target, first, second, 0.25, names)
    for name in names:
        for ours, a, b in zip(
            target.get_layer(name).get_weights(),
            first.get_layer(name).get_weights(),
            second.get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_allclose(ours, 0.25 * a + 0.75 * b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="share"):
        blend_weights(target, first, second, 1.5, names)


def test_shared_layers_are_the_backbone_and_other_architectures_are_refused():
    first, second = _two_models(heads=("fer2013", "ferplus"))
    names = shared_layer_names(first, second)
    assert "stem_conv" in names and "fer2013" not in names and "ferplus" not in names
    (other,) = _two_models("fernet4l", heads=("fer2013",))
    with pytest.raises(ValueError, match="do not share a backbone"):
        shared_layer_names(first, other)


def _publish_untrained(model, directory: Path, label_set: str, seconds: float) -> Path:
    directory.mkdir(parents=True)
    model.save(directory / "model.keras")
    card = {
        "name": directory.name,
        "label_set": label_set,
        "classes": list(CLASS_SETS[label_set].names),
        "architecture": "fernet",
        "training": {
            "heads_trained_jointly": [label_set],
            "config": {"architecture": "fernet"},
            "seed": 3,
            "stages": [
                {
                    "run_dir": f"runs/{directory.name}",
                    "command": "c",
                    "epochs": 1,
                    "wall_time_s": seconds,
                }
            ],
        },
    }
    (directory / "card.json").write_text(json.dumps(card))
    return directory


@pytest.mark.slow  # publishes three tiny models end to end, each with its evaluations
def test_cli_publishes_the_best_share_with_both_lineages(tmp_path: Path, monkeypatch, capsys):
    import fer.training.publish
    import fer.training.republish
    import fer.training.soup
    from fer.training.calibration import MIN_CALIBRATION_FACES

    dataset = _tiny_fer2013(n_val=MIN_CALIBRATION_FACES)
    for module in (fer.training.soup, fer.training.publish, fer.training.republish):
        monkeypatch.setattr(module, "load_dataset", lambda key, data_dir: dataset)
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    first, second = _two_models()
    first_dir = _publish_untrained(first, tmp_path / "one", "fer2013", 100.0)
    second_dir = _publish_untrained(second, tmp_path / "two", "fer2013", 50.0)
    output = tmp_path / "soup"
    argv = [str(first_dir), str(second_dir), "--labels", "fer2013", "--shares", "0,0.5,1"]
    assert fer_main(["soup", *argv, "--output-dir", str(output)]) == 0

    card = json.loads((output / "fer2013" / "card.json").read_text())
    soup = card["training"]["soup"]
    by_share = soup["publictest_accuracy_by_share"]
    assert set(by_share) == {"0.0", "0.5", "1.0"}
    assert soup["share_of_first"] == max(
        (float(s) for s in by_share), key=lambda s: by_share[str(s)]
    )
    assert card["training"]["selected_publictest_accuracy"] == max(by_share.values())
    # Two fer2013 ingredients: the head was blended with the backbone, from neither alone.
    assert soup["head_from"] == "both"
    assert "(backbone and head)" in (output / "fer2013" / "MODEL_CARD.md").read_text()
    # Both ingredients' training and the search itself count towards the wall time.
    stages = card["training"]["stages"]
    assert [stage["wall_time_s"] for stage in stages[:2]] == [100.0, 50.0]
    assert card["training"]["wall_time_s"] == pytest.approx(sum(s["wall_time_s"] for s in stages))
    assert stages[2]["command"].startswith("fer soup")
    assert "recomputed" in card["training"]["batch_norm_statistics"]
    assert {path.name for path in (output / "fer2013").iterdir()} == {
        "model.keras",
        "model_int8.tflite",
        "card.json",
        "MODEL_CARD.md",
        "evaluation.json",
    }
    # Both forms are evaluated into evaluation.json; the card holds no figures.
    evaluation = read_evaluation(output / "fer2013")
    for split, views in PUBLISHED_VIEWS:
        for backend in ("keras", "tflite"):
            assert find_report(evaluation, split, views, backend) is not None
    assert "metrics" not in card
    assert "## Metrics" in (output / "fer2013" / "MODEL_CARD.md").read_text()
    # Publishing folds a PublicTest temperature into the head and records what it did.
    calibration = card["calibration"]
    assert calibration["fitted_on"].startswith(f"PublicTest ({MIN_CALIBRATION_FACES} faces")
    summary = calibration["PublicTest_before_after"]
    assert summary["nll_after"] <= summary["nll_before"]
    # ... and one pass and the mirror pair get temperatures of their own, which the served
    # model applies: the card's one-pass ECE is that of the rescaled output.
    assert set(calibration["output_temperatures"]) == {"none", "mirror"}
    for fit in calibration["output_temperature_fits"].values():
        assert fit["nll_after"] <= fit["nll_before"] + 1e-4
    from fer.models.inference import load_model

    served = load_model(output / "fer2013")
    assert served.output_temperatures == calibration["output_temperatures"]

    # Re-calibrating a published model fits from the head its temperature was fitted on, gets
    # the same fit and leaves the model as it is.
    published = output / "fer2013"
    files = folder_bytes(published)
    assert fer_main(["publish", str(published), "--calibrate"]) == 0
    assert "already calibrated" in capsys.readouterr().out
    assert folder_bytes(published) == files

    # A model calibrated before output temperatures existed gets them without its files
    # changing: same weights, same TFLite file, same latency records.
    card = json.loads((published / "card.json").read_text())
    for key in ("output_temperatures", "output_temperature_fits"):
        card["calibration"].pop(key)
    card["benchmark"] = {"tflite_1_threads_avx512": {"single_face_ms_median": 0.2}}
    (published / "card.json").write_text(json.dumps(card))
    model_files = ("model.keras", "model_int8.tflite")
    models = {name: (published / name).read_bytes() for name in model_files}
    evaluation = read_evaluation(published)
    assert fer_main(["publish", str(published), "--output-temperatures"]) == 0
    assert "output temperatures" in capsys.readouterr().out
    updated = json.loads((published / "card.json").read_text())
    assert set(updated["calibration"]["output_temperatures"]) == {"none", "mirror"}
    assert updated["calibration"]["output_temperatures_command"].endswith("--output-temperatures")
    assert updated["benchmark"] == card["benchmark"]
    assert {name: (published / name).read_bytes() for name in model_files} == models
    for backend in ("keras", "tflite"):  # accuracy is unchanged by a temperature
        old, new = (
            find_report(e, "PublicTest", "none", backend)
            for e in (evaluation, read_evaluation(published))
        )
        assert new["accuracy"] == old["accuracy"]
    # A model with no fitted head temperature is refused, and nothing is written.
    refused = dict(updated, calibration={"temperature": 1.0, "fitted_on": None, "note": "n"})
    (published / "card.json").write_text(json.dumps(refused))
    before = (published / "card.json").read_bytes()
    assert fer_main(["publish", str(published), "--output-temperatures"]) == 2
    assert "--calibrate first" in capsys.readouterr().err
    assert (published / "card.json").read_bytes() == before
    (published / "card.json").write_text(json.dumps(updated))
    # The other actions of the same command: mirror+zoom reports, a plain re-export, and
    # rewriting MODEL_CARD.md alone.
    assert fer_main(["publish", str(published), "--add-tta-zoom"]) == 0
    assert "PrivateTest with mirror+zoom" in capsys.readouterr().out
    assert fer_main(["publish", str(published)]) == 0
    assert "PrivateTest accuracy" in capsys.readouterr().out
    assert "tflite_export_command" in json.loads((published / "card.json").read_text())
    (published / "MODEL_CARD.md").write_text("stale")
    assert fer_main(["publish", str(published), "--model-card"]) == 0
    assert (published / "MODEL_CARD.md").read_text().startswith("# Model card: fer2013")
    # Too few PublicTest faces to fit on: refused, and nothing on disk changes.
    files = {path.name: path.read_bytes() for path in published.iterdir() if path.is_file()}
    few = _tiny_fer2013(n_val=MIN_CALIBRATION_FACES - 1)
    monkeypatch.setattr(fer.training.republish, "load_dataset", lambda key, data_dir: few)
    assert fer_main(["publish", str(published), "--calibrate"]) == 2
    assert "fewer than" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in published.iterdir() if p.is_file()} == files


def test_cli_refuses_a_label_set_neither_model_has(tmp_path: Path, monkeypatch, capsys):
    import fer.training.soup

    dataset = _tiny_fer2013()
    monkeypatch.setattr(fer.training.soup, "load_dataset", lambda key, data_dir: dataset)
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    first, second = _two_models()
    first_dir = _publish_untrained(first, tmp_path / "one", "fer2013", 1.0)
    second_dir = _publish_untrained(second, tmp_path / "two", "fer2013", 1.0)
    output = tmp_path / "soup"
    argv = [str(first_dir), str(second_dir), "--labels", "ferplus", "--output-dir", str(output)]
    assert fer_main(["soup", *argv]) == 2
    assert "ferplus" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.slow  # publishes a tiny soup in full before the second one fails
@pytest.mark.parametrize("replace", [False, True])
def test_when_the_second_soup_cannot_be_published_neither_is(
    tmp_path: Path, monkeypatch, capsys, ferplus_head_fails, replace: bool  # noqa: F811
):
    """`fer soup` publishes its soups together: the fer2013 soup, written in full, is not
    published when the ferplus one fails, and with --replace both old models stay."""
    import fer.training.publish
    import fer.training.soup
    from fer.training.calibration import MIN_CALIBRATION_FACES
    from tests.training.test_loop import _tiny_ferplus

    fer2013 = _tiny_fer2013(n_val=MIN_CALIBRATION_FACES)
    ferplus = _tiny_ferplus(fer2013)
    for module in (fer.training.soup, fer.training.publish):
        monkeypatch.setattr(
            module, "load_dataset", lambda key, data_dir: ferplus if key == "ferplus" else fer2013
        )
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    first, second = _two_models(heads=("fer2013", "ferplus"))
    first_dir = _publish_untrained(first, tmp_path / "one", "fer2013", 1.0)
    second_dir = _publish_untrained(second, tmp_path / "two", "ferplus", 1.0)
    output = tmp_path / "soup"
    before = {}
    if replace:
        for key in ("fer2013", "ferplus"):
            (output / key).mkdir(parents=True)
            (output / key / "card.json").write_text(json.dumps({"name": f"old {key}"}))
            before[key] = folder_bytes(output / key)
    argv = [str(first_dir), str(second_dir), "--shares", "0.5", "--output-dir", str(output)]
    code = fer_main(["soup", *argv, *(["--replace"] if replace else [])])

    error = capsys.readouterr().err
    assert code == 1
    assert "publishing the ferplus soup failed" in error
    assert "No space left on device" in error
    assert "none of the soups was published: fer2013, ferplus" in error
    if replace:  # both old models as they were, the fer2013 one included
        assert sorted(path.name for path in output.iterdir()) == ["fer2013", "ferplus"]
        assert {key: folder_bytes(output / key) for key in before} == before
    else:
        assert not output.exists() or list(output.iterdir()) == []
