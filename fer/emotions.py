"""The emotion vocabulary and the class sets models are trained on.

Every class name in the project comes from ``EMOTIONS``; a ``ClassSet`` fixes an order, and that
order is the contract for the columns of every probability array a model returns.
"""

from __future__ import annotations

from dataclasses import dataclass

UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Emotion:
    name: str
    colour: str  # hex, used by overlays and charts so every view agrees
    # A Material Symbols name as Streamlit writes it: pages draw it with their own icon font,
    # where an emoji would need a font the clinician's computer may lack.
    icon: str


EMOTIONS: dict[str, Emotion] = {
    emotion.name: emotion
    for emotion in (
        Emotion("angry", "#d62728", ":material/sentiment_extremely_dissatisfied:"),
        Emotion("disgust", "#8c564b", ":material/sick:"),
        Emotion("fear", "#9467bd", ":material/sentiment_stressed:"),
        Emotion("happy", "#f2b701", ":material/sentiment_very_satisfied:"),
        Emotion("sad", "#1f77b4", ":material/sentiment_sad:"),
        Emotion("surprise", "#ff7f0e", ":material/sentiment_excited:"),
        Emotion("neutral", "#7f7f7f", ":material/sentiment_neutral:"),
        Emotion("contempt", "#2ca02c", ":material/sentiment_dissatisfied:"),
    )
}
UNCERTAIN_STYLE = Emotion(UNCERTAIN, "#bbbbbb", ":material/help:")


def emotion_style(name: str) -> Emotion:
    """Colour and icon for a class name (or ``"uncertain"``)."""
    if name == UNCERTAIN:
        return UNCERTAIN_STYLE
    try:
        return EMOTIONS[name]
    except KeyError:
        raise ValueError(f"Unknown emotion {name!r}; known: {', '.join(EMOTIONS)}") from None


@dataclass(frozen=True)
class ClassSet:
    """An ordered list of emotion names, identified by ``key``."""

    key: str
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [name for name in self.names if name not in EMOTIONS]
        if unknown:
            raise ValueError(f"Class set {self.key!r} uses unknown emotions {unknown}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"Class set {self.key!r} repeats a class: {self.names}")

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"{name!r} is not in class set {self.key!r} {self.names}") from None


# FER2013's integer labels 0..6 in Kaggle's order.
FER2013 = ClassSet("fer2013", ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
# FER+ in the order of the vote columns of fer2013new.csv (neutral, happiness, surprise, ...).
FERPLUS = ClassSet(
    "ferplus", ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")
)
CLASS_SETS: dict[str, ClassSet] = {FER2013.key: FER2013, FERPLUS.key: FERPLUS}

# Spellings found in public datasets (Kaggle folders, CK+, FER+ headers) mapped to our vocabulary.
LABEL_ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "contempt": "contempt",
}


def class_set(key: str) -> ClassSet:
    try:
        return CLASS_SETS[key]
    except KeyError:
        raise ValueError(
            f"Unknown class set {key!r}; choose one of {sorted(CLASS_SETS)}"
        ) from None


def canonical_label(raw: str) -> str:
    """Map a dataset's spelling of an emotion (``"Happiness"``, ``"fearful"``) to our name."""
    key = raw.strip().lower()
    if key in LABEL_ALIASES:
        return LABEL_ALIASES[key]
    raise ValueError(f"Label {raw!r} does not name an emotion; known: {sorted(LABEL_ALIASES)}")
