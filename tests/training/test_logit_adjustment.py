"""Post-hoc logit adjustment: the prior's biases, the choice of tau on the selection split, and
the biases folded into a softmax head."""

from __future__ import annotations

import numpy as np
import pytest

from fer.training.logit_adjustment import (
    adjusted_probabilities,
    choose_tau,
    fold_logit_biases,
    prior_biases,
)


def test_prior_biases_favour_rare_classes_and_sum_to_zero():
    biases = prior_biases(np.array([900, 90, 10]), tau=1.0)
    assert biases[0] < biases[1] < biases[2]
    assert biases.sum() == pytest.approx(0.0, abs=1e-12)
    # Only differences matter: log(900/10) between the most and the least frequent class.
    assert biases[2] - biases[0] == pytest.approx(np.log(90.0))
    np.testing.assert_allclose(prior_biases(np.array([900, 90, 10]), tau=0.0), 0.0)
    with pytest.raises(ValueError, match="training faces"):
        prior_biases(np.array([10, 0]), tau=1.0)


def test_adjusted_probabilities_add_the_biases_to_each_view_then_average():
    views = np.array([[[0.6, 0.4]], [[0.2, 0.8]]])  # two views of one face
    np.testing.assert_allclose(adjusted_probabilities(views, [0.0, 0.0]), [[0.4, 0.6]])
    shifted = adjusted_probabilities(views[0], [0.0, np.log(3.0)])  # odds 0.4*3 : 0.6
    np.testing.assert_allclose(shifted, [[1 / 3, 2 / 3]])


def pulled_towards_the_frequent_class(n_frequent: int = 300, n_rare: int = 30):
    """Faces whose model leans to class 0: every rare face gets 0.55 for class 0, and one in
    ten frequent faces leans only slightly to it (0.52)."""
    labels = np.array([0] * n_frequent + [1] * n_rare)
    probabilities = np.empty((len(labels), 2))
    probabilities[:n_frequent] = [0.9, 0.1]
    probabilities[:n_frequent:10] = [0.52, 0.48]
    probabilities[n_frequent:] = [0.55, 0.45]
    return probabilities, labels, np.array([n_frequent, n_rare])


def test_choose_tau_raises_macro_recall_within_the_accuracy_bound():
    probabilities, labels, counts = pulled_towards_the_frequent_class()
    choice = choose_tau({"none": probabilities}, labels, counts, max_accuracy_drop=0.05)
    curve = {point["tau"]: point for point in choice["curve"]}
    assert curve[0.0]["none"]["macro_recall"] == 0.5  # every rare face read as frequent
    assert choice["tau"] > 0
    chosen = curve[choice["tau"]]["none"]
    # The rare faces all read right; the tenth of frequent faces that leant least went over.
    assert chosen["macro_recall"] == pytest.approx((270 / 300 + 1.0) / 2, abs=1e-4)
    assert chosen["accuracy"] >= curve[0.0]["none"]["accuracy"] - 0.05
    # The smallest tau that reaches the best macro-recall: ties go to the lighter change.
    best = max(point["none"]["macro_recall"] for point in choice["curve"]
               if point["none"]["accuracy"] >= curve[0.0]["none"]["accuracy"] - 0.05)
    lighter = [t for t, point in curve.items()
               if t < choice["tau"] and point["none"]["macro_recall"] == best]
    assert not lighter


def test_choose_tau_keeps_zero_when_every_gain_costs_too_much_accuracy():
    probabilities, labels, counts = pulled_towards_the_frequent_class()
    # Moving the rare faces over moves more slightly-leaning frequent faces with them: with no
    # accuracy to spend, the model stays as it was.
    probabilities[:300:5] = [0.52, 0.48]
    choice = choose_tau({"none": probabilities}, labels, counts, max_accuracy_drop=0.0)
    assert choice["tau"] == 0.0
    np.testing.assert_allclose(choice["biases"], 0.0)


def test_choose_tau_bounds_every_view_set():
    probabilities, labels, counts = pulled_towards_the_frequent_class()
    fragile = probabilities.copy()
    fragile[:300] = [0.54, 0.46]  # here any tau that helps the rare faces misreads all others
    loose = choose_tau({"none": probabilities}, labels, counts, max_accuracy_drop=0.05)
    both = choose_tau({"none": probabilities, "fragile": fragile}, labels, counts, 0.05)
    assert loose["tau"] > 0 and both["tau"] == 0.0


@pytest.mark.slow
def test_folded_biases_give_what_adjusted_probabilities_predicts():
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    faces = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    before = np.asarray(model(faces))
    biases = np.array([-0.5, 0.1, 0.4])
    fold_logit_biases(model, biases)
    np.testing.assert_allclose(
        np.asarray(model(faces)), adjusted_probabilities(before, biases), atol=1e-5
    )
    with pytest.raises(ValueError, match="biases"):
        fold_logit_biases(model, np.zeros(2))
