"""The Keras training graph (augmentation, backbone, one head per label set), its loss and
optimizer, and the stand-alone inference heads that receive its weights."""

from __future__ import annotations

from contextlib import contextmanager

from fer.emotions import class_set
from fer.training.config import TrainConfig


@contextmanager
def dtype_policy(name: str):
    """Build layers under Keras dtype policy ``name``; the previous global policy is restored."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_training_model(config: TrainConfig):
    import keras

    from fer.data.preprocess import INPUT_SHAPE, build_augmentation
    from fer.models.zoo import build_head, zoo_entry

    keras.utils.set_random_seed(config.seed)
    entry = zoo_entry(config.architecture)
    inputs = keras.Input(INPUT_SHAPE, name="face")
    # Augmentation interpolates pixels: it stays float32 under any policy.
    augmentation = build_augmentation(config.augmentation, config.seed)
    augmented = augmentation(inputs) if augmentation.layers else inputs
    with dtype_policy(config.precision):
        backbone = entry.build_backbone()
        features = backbone(augmented)
        outputs = {
            key: build_head(features, len(class_set(key)), entry.dropout, name=key)
            for key in config.label_sets
        }
    return keras.Model(inputs, outputs, name=f"{config.architecture}_train")


def soft_cross_entropy(y_true, y_pred):
    """``-sum(y_true * log(y_pred))`` per row; rows with an all-zero target give 0 and no gradient.

    Keras' CategoricalCrossentropy returns 0 for such rows but back-propagates gradients thousands
    of times larger than a labelled row's (measured on this model), which wrecked joint training:
    the FER+ head's unlabelled rows dominated the backbone's updates.
    """
    from keras import ops

    probabilities = ops.clip(y_pred, 1e-7, 1.0)
    return -ops.sum(y_true * ops.log(probabilities), axis=-1)


def compile_training_model(model, config: TrainConfig, steps_per_epoch: int) -> None:
    import keras

    # With weight averaging the cosine ends where averaging starts; CosineDecay then holds the
    # floor (alpha) for the remaining steps.
    annealed_epochs = config.average_from - 1 if config.average_from else config.epochs
    total_steps = max(1, annealed_epochs * steps_per_epoch)
    warmup_steps = min(config.warmup_epochs * steps_per_epoch, total_steps - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.1,
        decay_steps=total_steps - warmup_steps,
        warmup_target=config.learning_rate,
        warmup_steps=warmup_steps,
        alpha=config.learning_rate_floor,
    )
    clip = config.gradient_clip_norm or None
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=schedule,
            momentum=0.9,
            nesterov=True,
            weight_decay=config.weight_decay,
            clipnorm=clip,
        )
    else:
        optimizer = keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=config.weight_decay, clipnorm=clip
        )
    losses = {key: soft_cross_entropy for key in config.label_sets}
    model.compile(optimizer=optimizer, loss=losses, jit_compile=False)


def build_inference_heads(config: TrainConfig) -> dict:
    """One stand-alone inference model per head (backbone + head, no augmentation).

    They are built once, separately from the training graph, and receive the training weights by
    layer name (:func:`copy_head_weights`): building new models on top of the training model's
    layers during ``fit`` disturbed training in Keras 3 (the training loss rose after the first
    exports), so the training graph is never touched.
    """
    from fer.models.zoo import build_classifier

    return {
        key: build_classifier(config.architecture, len(class_set(key)), name=key)
        for key in config.label_sets
    }


def copy_head_weights(training_model, inference_model) -> None:
    """Copy backbone and head weights from the training model into an inference model."""
    from fer.models.zoo import layers_by_name

    source = layers_by_name(training_model)
    for name, layer in layers_by_name(inference_model).items():
        layer.set_weights(source[name].get_weights())
