import json
from pathlib import Path

import numpy as np
import pytest

from fer.data.datasets import FaceDataset
from fer.emotions import FER2013, FERPLUS
from fer.training.config import TrainConfig
from fer.training.loop import train
from fer.training.targets import build_training_data


def _tiny_fer2013(n_train: int = 64, n_val: int = 32, seed: int = 0) -> FaceDataset:
    rng = np.random.default_rng(seed)
    n_rows = n_train + 2 * n_val
    labels = rng.integers(0, 7, n_rows)
    # Class-dependent brightness patterns make the task learnable in principle.
    images = rng.integers(0, 60, (n_rows, 48, 48)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, label * 6 : label * 6 + 6, :] = 220
    splits = np.array(["Training"] * n_train + ["PublicTest"] * n_val + ["PrivateTest"] * n_val)
    return FaceDataset(images, labels.astype(np.int64), splits, FER2013, "tiny")


def _tiny_ferplus(fer2013: FaceDataset) -> FaceDataset:
    keep = np.arange(0, len(fer2013), 2)  # FER+ drops every other row here
    labels = fer2013.labels[keep] % 8
    soft = np.eye(8, dtype=np.float32)[labels] * 0.7 + 0.3 / 8
    return FaceDataset(
        fer2013.images[keep],
        labels,
        fer2013.splits[keep],
        FERPLUS,
        "tiny+",
        soft_labels=soft,
        row_ids=keep,
    )


def test_training_data_targets_with_smoothing_and_masking():
    fer2013 = _tiny_fer2013()
    ferplus = _tiny_ferplus(fer2013)
    config = TrainConfig(label_sets=("fer2013", "ferplus"), label_smoothing=0.1)
    data = build_training_data(config, fer2013, ferplus)
    assert data.images.shape == (64, 48, 48)
    np.testing.assert_allclose(data.targets["fer2013"].sum(axis=1), 1.0, rtol=1e-6)
    assert data.targets["fer2013"].max() == pytest.approx(0.9 + 0.1 / 7)
    # Rows FER+ drops carry no FER+ loss: an all-zero target.
    assert (data.targets["ferplus"][1::2] == 0).all()
    np.testing.assert_allclose(data.targets["ferplus"][0::2].sum(axis=1), 1.0, rtol=1e-6)
    assert (data.labels["ferplus"][1::2] == -1).all()


def test_class_weights_scale_targets():
    fer2013 = _tiny_fer2013()
    config = TrainConfig(imbalance="class_weights", label_smoothing=0.0)
    data = build_training_data(config, fer2013, None)
    sums = data.targets["fer2013"].sum(axis=1)
    counts = np.bincount(data.labels["fer2013"], minlength=7)
    expected = 64 / (7 * counts[data.labels["fer2013"]])
    np.testing.assert_allclose(sums, expected, rtol=1e-5)


def test_invalid_configs():
    with pytest.raises(ValueError, match="single label set"):
        TrainConfig(label_sets=("fer2013", "ferplus"), imbalance="smote")
    with pytest.raises(ValueError, match="Unknown class set"):
        TrainConfig(label_sets=("affectnet",))
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="float16")


def test_dtype_policy_is_restored_after_building():
    import keras

    from fer.training.network import dtype_policy

    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError), dtype_policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        raise RuntimeError("a failed build must not leave the policy behind")
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.slow
def test_mixed_bfloat16_training_keeps_float32_edges_and_saves_float32_heads(tmp_path: Path):
    import keras

    from fer.training.network import build_training_model

    config = TrainConfig(architecture="fernet4l", precision="mixed_bfloat16")
    model = build_training_model(config)
    backbone = model.get_layer("fernet4l_backbone")
    assert backbone.get_layer("stage1a_conv").compute_dtype == "bfloat16"
    # Standardisation matches the float32 NumPy twin used in serving; the softmax feeds a log.
    assert backbone.get_layer("standardize").compute_dtype == "float32"
    assert model.get_layer("fer2013").compute_dtype == "float32"
    assert model.get_layer("augmentation").compute_dtype == "float32"

    fer2013 = _tiny_fer2013()
    small = TrainConfig(
        architecture="ziggy", epochs=1, batch_size=16, precision="mixed_bfloat16"
    )
    ziggy = build_training_model(small).get_layer("ziggy_backbone")
    assert ziggy.get_layer("standardize").compute_dtype == "float32"
    state = train(small, fer2013, None, tmp_path)
    assert np.isfinite(state.history[0]["loss"])
    head = keras.models.load_model(tmp_path / "best_fer2013.keras")
    assert {layer.compute_dtype for layer in head.layers if layer.weights} == {"float32"}
    probabilities = head.predict(fer2013.images[:4, ..., None].astype(np.float32), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_one_epoch_on_64_images_checkpoints_and_resumes(tmp_path: Path):
    import keras

    fer2013 = _tiny_fer2013()
    ferplus = _tiny_ferplus(fer2013)
    config = TrainConfig(
        architecture="ziggy", label_sets=("fer2013", "ferplus"), epochs=1, batch_size=16
    )
    state = train(config, fer2013, ferplus, tmp_path)
    assert state.epochs_done == 1
    for name in (
        "checkpoint.keras",
        "state.json",
        "history.csv",
        "best_fer2013.keras",
        "best_ferplus.keras",
    ):
        assert (tmp_path / name).is_file(), name
    head = keras.models.load_model(tmp_path / "best_ferplus.keras")
    assert head.output_shape == (None, 8)
    # Resume continues from the checkpoint instead of starting over.
    longer = TrainConfig(
        architecture="ziggy", label_sets=("fer2013", "ferplus"), epochs=2, batch_size=16
    )
    resumed = train(longer, fer2013, ferplus, tmp_path, resume=True)
    assert resumed.epochs_done == 2
    history = json.loads((tmp_path / "state.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    with pytest.raises(FileExistsError, match="--resume"):
        train(longer, fer2013, ferplus, tmp_path)


def test_unlabelled_rows_give_no_loss_and_no_gradient():
    import tensorflow as tf

    from fer.training.network import soft_cross_entropy

    logits = tf.Variable([[2.0, -1.0, 0.5], [0.3, 0.2, -4.0]])
    targets = tf.constant([[0.0, 0.0, 0.0], [0.2, 0.8, 0.0]])
    with tf.GradientTape() as tape:
        losses = soft_cross_entropy(targets, tf.nn.softmax(logits))
        total = tf.reduce_sum(losses)
    gradient = tape.gradient(total, logits).numpy()
    assert float(losses[0]) == 0.0
    np.testing.assert_allclose(gradient[0], 0.0, atol=1e-7)
    probabilities = tf.nn.softmax(logits[1]).numpy()
    # d/dlogits of soft cross-entropy is softmax - target.
    np.testing.assert_allclose(gradient[1], probabilities - [0.2, 0.8, 0.0], atol=1e-5)


def test_init_from_starts_at_the_previous_weights_and_carries_its_cost(tmp_path: Path):
    import keras

    fer2013 = _tiny_fer2013()
    config = TrainConfig(architecture="ziggy", epochs=1, batch_size=16)
    first = train(config, fer2013, None, tmp_path / "first", command="first command")
    previous = keras.models.load_model(tmp_path / "first" / "checkpoint.keras", compile=False)

    second = train(
        TrainConfig(architecture="ziggy", epochs=1, batch_size=16),
        fer2013,
        None,
        tmp_path / "second",
        init_from=tmp_path / "first",
        command="second command",
    )
    assert [stage["command"] for stage in second.stages()] == ["first command", "second command"]
    assert second.total_wall_time_s == pytest.approx(
        first.wall_time_s + second.wall_time_s, abs=0.1
    )
    continued = keras.models.load_model(tmp_path / "second" / "checkpoint.keras", compile=False)
    # After one more epoch the weights moved away from the initial ones, but only by a fine-tune
    # step: far closer to the previous run than to a freshly initialised model.
    train(
        TrainConfig(architecture="ziggy", epochs=1, batch_size=16, seed=3),
        fer2013,
        None,
        tmp_path / "fresh",
    )
    fresh_model = keras.models.load_model(tmp_path / "fresh" / "checkpoint.keras", compile=False)

    def distance(a, b):
        return sum(
            float(np.abs(x - y).sum())
            for x, y in zip(a.get_weights(), b.get_weights(), strict=True)
        )

    assert distance(continued, previous) < distance(fresh_model, previous)
    assert (
        json.loads((tmp_path / "second" / "state.json").read_text())["predecessors"][0]["epochs"]
        == 1
    )

    with pytest.raises(ValueError, match="heads"):
        train(
            TrainConfig(architecture="ziggy", label_sets=("fer2013", "ferplus"), epochs=1),
            fer2013,
            _tiny_ferplus(fer2013),
            tmp_path / "third",
            init_from=tmp_path / "first",
        )
    with pytest.raises(FileNotFoundError):
        train(config, fer2013, None, tmp_path / "fourth", init_from=tmp_path / "missing")


def test_mixup_blends_faces_and_targets_with_the_same_weights():
    import tensorflow as tf

    from fer.data.preprocess import mixup_batch

    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 255, (16, 48, 48, 1)).astype(np.float32)
    # A one-hot "row id" head reveals each row's partner and weight exactly.
    row_ids = np.eye(16, dtype=np.float32)
    # Half the rows carry no label for this head (all-zero target rows).
    half = np.where((np.arange(16) % 2 == 0)[:, None], row_ids[:, :8], 0.0).astype(np.float32)
    generator = tf.random.Generator.from_seed(5)
    mixed, targets = mixup_batch(
        tf.constant(faces),
        {"ids": tf.constant(row_ids), "half": tf.constant(half)},
        0.4,
        generator,
    )
    mixed, ids, half_mixed = mixed.numpy(), targets["ids"].numpy(), targets["half"].numpy()
    np.testing.assert_allclose(ids.sum(axis=1), 1.0, rtol=1e-5)
    mixed_rows = 0
    for row in range(16):
        own = ids[row, row]
        assert own >= 0.5 - 1e-6  # each face keeps the larger share of itself
        others = np.flatnonzero((ids[row] > 1e-6) & (np.arange(16) != row))
        assert len(others) <= 1
        partner = int(others[0]) if len(others) else row
        mixed_rows += partner != row
        expected_face = own * faces[row] + (1 - own) * faces[partner]
        np.testing.assert_allclose(mixed[row], expected_face, atol=1e-2)
        expected_half = own * half[row] + (1 - own) * half[partner]
        np.testing.assert_allclose(half_mixed[row], expected_half, atol=1e-5)
    assert mixed_rows >= 8  # Beta(0.4, 0.4) and a random pairing mix most rows
    # An unlabelled partner only shrinks a row's target; nothing is invented for unlabelled rows.
    assert np.all(half_mixed.sum(axis=1) <= 1.0 + 1e-5)


def test_mixup_config_is_validated_and_trains(tmp_path: Path):
    with pytest.raises(ValueError, match="mixup_alpha"):
        TrainConfig(mixup_alpha=-0.1)
    fer2013 = _tiny_fer2013()
    config = TrainConfig(architecture="ziggy", epochs=1, batch_size=16, mixup_alpha=0.2)
    state = train(config, fer2013, None, tmp_path)
    assert state.epochs_done == 1
    assert np.isfinite(state.history[0]["loss"])


def test_weight_average_is_the_running_mean_and_counts_an_epoch_once(tmp_path: Path):
    from fer.training.averaging import WeightAverage

    class Layer:
        def __init__(self, *weights):
            self.weights = [np.asarray(w, np.float32) for w in weights]

        def get_weights(self):
            return self.weights

        def set_weights(self, weights):
            self.weights = weights

    average = WeightAverage(tmp_path / "average.npz")
    snapshots = [([1.0, 2.0], [4.0]), ([3.0, 6.0], [0.0]), ([5.0, 1.0], [2.0])]
    for epoch, (kernel, bias) in enumerate(snapshots, start=7):
        assert average.add(epoch, {"dense": Layer(kernel, bias)})
        average.save()
    assert not average.add(9, {"dense": Layer([100.0, 100.0], [100.0])})  # a re-run epoch
    restored = WeightAverage(tmp_path / "average.npz")
    assert restored.load()
    assert (restored.first_epoch, restored.last_epoch, restored.count) == (7, 9, 3)
    np.testing.assert_allclose(restored.mean["dense"][0], [3.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(restored.mean["dense"][1], [2.0], rtol=1e-6)
    assert not WeightAverage(tmp_path / "missing.npz").load()
    with pytest.raises(ValueError, match="average_from"):
        TrainConfig(epochs=4, average_from=5)
    with pytest.raises(ValueError, match="learning_rate_floor"):
        TrainConfig(learning_rate_floor=0.0)


@pytest.mark.slow
def test_weight_averaging_run_holds_the_floor_resumes_and_offers_the_average(tmp_path: Path):
    import keras

    from fer.training.selection import choose_published_head

    fer2013 = _tiny_fer2013()

    def config(epochs):
        return TrainConfig(
            architecture="ziggy",
            epochs=epochs,
            batch_size=16,
            learning_rate=1e-3,
            learning_rate_floor=0.1,
            average_from=3,
        )

    train(config(3), fer2013, None, tmp_path)
    after_three = keras.models.load_model(tmp_path / "checkpoint.keras", compile=False)
    third = after_three.get_layer("fer2013").get_weights()[0]
    state = train(config(4), fer2013, None, tmp_path, resume=True)
    fourth = keras.models.load_model(tmp_path / "checkpoint.keras", compile=False)
    # Rates as logged at each epoch's end: the warm-up peak, then the cosine reaches its floor
    # where averaging starts and holds it.
    rates = [row["learning_rate"] for row in state.history]
    np.testing.assert_allclose(rates, [1e-3, 1e-4, 1e-4, 1e-4], rtol=1e-5)
    assert [row.get("averaged_epochs") for row in state.history] == [None, None, 1, 2]
    averaged = keras.models.load_model(tmp_path / "average_fer2013.keras", compile=False)
    np.testing.assert_allclose(
        averaged.get_layer("fer2013").get_weights()[0],
        (third + fourth.get_layer("fer2013").get_weights()[0]) / 2,
        rtol=1e-5,
        atol=1e-7,
    )
    model, selection = choose_published_head(tmp_path, "fer2013", fer2013, state)
    best_epoch = state.best["fer2013"]["epoch"]
    scores = selection["publictest_accuracy"]
    assert set(scores) == {f"epoch {best_epoch}", "average of epochs 3-4"}
    assert scores[selection["chosen"]] == max(scores.values())
    assert selection["epoch"] == (best_epoch if selection["chosen"].startswith("epoch") else None)
    assert model.output_shape == (None, 7)
