"""Stochastic weight averaging: a running mean of layer weights kept in the run directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

AVERAGE_FILE = "average.npz"


class WeightAverage:
    """Running mean of a model's layer weights over epoch ends (stochastic weight averaging).

    Saved into the run dir after every update, with the epochs it covers, so ``--resume``
    continues it and an epoch re-run after a crash is not counted twice. Batch-norm statistics
    are averaged too but mean little: publishing recomputes them for the averaged weights.
    """

    def __init__(self, path: Path):
        self.path = path
        self.first_epoch = 0
        self.last_epoch = 0
        self.mean: dict[str, list[NDArray[np.float32]]] = {}

    @property
    def count(self) -> int:
        return self.last_epoch - self.first_epoch + 1 if self.last_epoch else 0

    def load(self) -> bool:
        if not self.path.is_file():
            return False
        mean: dict[str, dict[int, NDArray]] = {}
        with np.load(self.path) as stored:
            self.first_epoch, self.last_epoch = (int(e) for e in stored["epochs"])
            for key in stored.files:
                if key != "epochs":
                    name, index = key.rsplit(":", 1)
                    mean.setdefault(name, {})[int(index)] = stored[key]
        self.mean = {name: [arrays[i] for i in sorted(arrays)] for name, arrays in mean.items()}
        return True

    def add(self, epoch: int, layers: dict) -> bool:
        """Fold the weights of ``layers`` (name -> layer) at the end of ``epoch`` into the mean."""
        if epoch <= self.last_epoch:
            return False
        if not self.last_epoch:
            self.first_epoch = epoch
        self.last_epoch = epoch
        for name, layer in layers.items():
            weights = [np.asarray(w, np.float32) for w in layer.get_weights()]
            previous = self.mean.get(name)
            self.mean[name] = (
                weights
                if previous is None
                # Float32 already (NumPy keeps it when dividing by an int); the stubs say float64.
                else [
                    np.asarray(m + (w - m) / self.count, np.float32)
                    for m, w in zip(previous, weights, strict=True)
                ]
            )
        return True

    def save(self, path: Path | None = None) -> None:
        """Write the mean to ``path`` (default: where it is loaded from)."""
        path = self.path if path is None else path
        arrays = {f"{name}:{i}": w for name, ws in self.mean.items() for i, w in enumerate(ws)}
        partial = path.with_name(path.stem + ".partial.npz")
        # NumPy's stubs match ``**arrays`` against ``allow_pickle: bool``; keys are "name:index".
        epochs = np.array([self.first_epoch, self.last_epoch])
        np.savez(partial, epochs=epochs, **arrays)  # type: ignore[arg-type]
        partial.replace(path)

    def apply_to(self, model) -> None:
        """Give ``model`` (training or inference graph) the averaged weights, layer by name."""
        from fer.models.zoo import layers_by_name

        for name, layer in layers_by_name(model).items():
            layer.set_weights(self.mean[name])


# ------------------------------------------------------------------------------------ training
