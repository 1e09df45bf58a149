"""The configuration of one training run (:class:`TrainConfig`), written into model cards."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fer.data.augmentation import AugmentationConfig
from fer.data.imbalance import STRATEGIES
from fer.emotions import class_set

PRECISIONS = ("float32", "mixed_bfloat16")
# "dataset": FER2013's own crops; "mixed": each face in each epoch is either its dataset crop or
# the same face re-aligned by the serving pipeline (fer.training.framing), with equal chance.
FRAMINGS = ("dataset", "mixed")
@dataclass(frozen=True)
class TrainConfig:
    architecture: str = "fernet"
    label_sets: tuple[str, ...] = ("fer2013",)
    imbalance: str = "none"
    epochs: int = 36
    batch_size: int = 64
    optimizer: str = "adamw"  # or "sgd" (Nesterov momentum 0.9)
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    gradient_clip_norm: float = 1.0
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    patience: int = 10
    seed: int = 0
    train_limit: int = 0  # 0: every training row; >0: the first N (smoke runs, tests)
    # "mixed_bfloat16" computes convolutions in bfloat16 (float32 weights, standardisation and
    # softmax; saved inference models are float32). It helped only the smallest network on an
    # AVX512_BF16 CPU (docs/training.md), so float32 stays the default.
    precision: str = "float32"
    # Offline distillation (fer.training.distill): a published model whose flip-averaged
    # predictions are
    # blended into the targets of its head, with this weight; "" trains on the labels alone.
    distill_from: str = ""
    distill_weight: float = 0.5
    # Share of the FER+ vote distribution, moved onto FER2013's seven classes, in the FER2013
    # head's targets: ten annotators' votes tell an ambiguous face from a clear one, which
    # FER2013's single label cannot. 0 trains the FER2013 head on its own labels alone.
    fer2013_vote_weight: float = 0.0
    # Mixup's Beta(alpha, alpha) parameter (fer.data.preprocess.mixup_batch); 0 turns it off.
    # Training
    # accuracy ran 12 points above test accuracy with the augmentation layers alone.
    mixup_alpha: float = 0.0
    # Stochastic weight averaging (Izmailov et al., 2018): from this epoch on (1-based) the
    # weights at every epoch's end join a running mean, and the learning rate, annealed by cosine
    # until then, stays at its floor. 0 turns it off (the cosine spans the whole run).
    average_from: int = 0
    # The schedule's floor as a share of the peak learning rate.
    learning_rate_floor: float = 0.01
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    framing: str = "dataset"

    def __post_init__(self) -> None:
        if not self.label_sets or len(set(self.label_sets)) != len(self.label_sets):
            raise ValueError(f"label_sets must be distinct and non-empty: {self.label_sets}")
        for key in self.label_sets:
            class_set(key)
        if self.imbalance not in STRATEGIES:
            raise ValueError(f"imbalance must be one of {STRATEGIES}, not {self.imbalance!r}")
        if self.imbalance in ("oversample", "smote") and len(self.label_sets) > 1:
            raise ValueError("oversample/smote change the rows, so they need a single label set")
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, not {self.framing!r}")
        if self.framing != "dataset" and self.imbalance in ("oversample", "smote"):
            raise ValueError("oversample/smote make faces the pipeline has not framed")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', not {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must lie in [0, 1], not {self.distill_weight}")
        if not 0.0 <= self.fer2013_vote_weight <= 1.0:
            raise ValueError(
                f"fer2013_vote_weight must lie in [0, 1], not {self.fer2013_vote_weight}"
            )
        if self.fer2013_vote_weight > 0 and "fer2013" not in self.label_sets:
            raise ValueError("fer2013_vote_weight needs a FER2013 head in label_sets")
        if self.mixup_alpha < 0.0:
            raise ValueError(f"mixup_alpha must be >= 0, not {self.mixup_alpha}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, not {self.learning_rate}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be 0 or more, not {self.weight_decay}")
        if not math.isfinite(self.mixup_alpha):
            raise ValueError(f"mixup_alpha must be a finite number, not {self.mixup_alpha}")
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, not {self.patience}")
        if self.train_limit < 0:
            raise ValueError(f"train_limit must be 0 (every row) or more, not {self.train_limit}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must lie in 0 .. 2**32 - 1, not {self.seed}")
        if not 0 <= self.average_from <= self.epochs:
            raise ValueError(
                f"average_from must lie in 0..epochs ({self.epochs}), not {self.average_from}"
            )
        if not 0.0 < self.learning_rate_floor <= 1.0:
            raise ValueError(
                f"learning_rate_floor must lie in (0, 1], not {self.learning_rate_floor}"
            )
