"""Dataset: FER2013 and FER+ class balance, pixel statistics, sample faces, blank and duplicate
images."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# any page may be the first one a user opens, so each imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

import streamlit as st

from fer.data import eda
from fer.evaluation import plots
from ui import auth, research

SPLIT_CHOICES = ("All", "Training", "PublicTest", "PrivateTest")
DATASETS = ("fer2013", "ferplus")
PIXEL_HEADINGS = {
    "emotion": "Emotion", "n_images": "Images", "pixel_mean": "Mean pixel value",
    "pixel_std": "Pixel spread (std)", "image_mean_std": "Spread of image brightness (std)",
    "contrast_mean": "Mean contrast (std within an image)",
}
DUPLICATE_HEADINGS = {
    "group": "Group", "position": "Position", "row_id": "Row in the file", "split": "Split",
    "emotion": "Emotion", "group_size": "Images in the group", "is_blank": "Blank",
}


def main() -> None:
    auth.require_role(*auth.RESEARCH_ROLES)
    st.title("Dataset")
    st.caption(
        "FER2013 (Goodfellow et al. 2013) and its FER+ relabelling (Barsoum et al. 2016, majority "
        "protocol: rows without a majority, 'unknown' or 'not a face' are dropped)."
    )
    data_dir = research.data_dir()
    if data_dir is None:
        st.info(research.NO_DATA_MESSAGE)
        return
    data_dir_text = str(data_dir)
    fer2013 = research.usable_dataset("fer2013", data_dir_text)
    ferplus = research.usable_dataset("ferplus", data_dir_text) if fer2013 is not None else None
    if fer2013 is None or ferplus is None:
        return

    st.header("Class distribution")
    left, right = st.columns(2)
    split = left.selectbox("Split", SPLIT_CHOICES, key="dataset.split")
    value = right.radio("Show", ("count", "share"), horizontal=True, key="dataset.value")
    chosen = None if split == "All" else split
    distribution = eda.class_distribution([fer2013, ferplus], chosen)
    st.plotly_chart(plots.class_distribution_chart(distribution, value))
    n_fer2013 = len(fer2013 if chosen is None else fer2013.split(chosen))
    n_ferplus = len(ferplus if chosen is None else ferplus.split(chosen))
    where = "" if chosen is None else f" in {chosen}"
    st.caption(
        f"{n_fer2013:,} FER2013 rows{where}; FER+ keeps {n_ferplus:,} of them under its "
        "protocol. FER+ adds a contempt class and relabels many FER2013 'fear'/'sad' faces."
    )

    st.header("Pixel statistics per class")
    key = st.selectbox("Dataset", DATASETS, key="dataset.stats_dataset")
    statistics = research.pixel_statistics(key, data_dir_text, chosen)
    st.dataframe(
        statistics.rename(columns=PIXEL_HEADINGS).style.format(precision=1), hide_index=True
    )
    st.plotly_chart(plots.pixel_statistics_chart(statistics))

    st.header("Sample faces per class")
    left, right = st.columns(2)
    n_per_class = left.slider("Faces per class", 1, 16, 8, key="dataset.n_per_class")
    seed = int(right.number_input("Seed", 0, 10_000, 0, key="dataset.seed"))
    source = fer2013 if key == "fer2013" else ferplus
    grid = eda.sample_grid(source, n_per_class, seed)
    st.plotly_chart(plots.image_grid(grid.images, grid.class_names, f"{key}: random faces"))

    st.header("Blank and duplicate images (FER2013)")
    summary, groups = research.quality("fer2013", data_dir_text)
    columns = st.columns(4)
    columns[0].metric("Rows", f"{summary['n_rows']:,}")
    columns[1].metric("Distinct images", f"{summary['n_distinct']:,}")
    columns[2].metric("Blank images", summary["n_blank"])
    columns[3].metric("Duplicate groups across splits", summary["n_groups_cross_split"])
    st.caption(
        f"{summary['n_redundant_rows']:,} rows repeat an earlier image; "
        f"{summary['n_groups_conflicting_labels']} duplicate groups carry different labels. "
        "Duplicates across splits let a model see test faces in training."
    )
    only_cross = st.toggle("Only groups spanning several splits", key="dataset.cross_split")
    shown = groups
    if only_cross:
        spans = groups.groupby("group")["split"].transform("nunique") > 1
        shown = groups[spans]
    st.dataframe(shown.rename(columns=DUPLICATE_HEADINGS), hide_index=True)


if __name__ == "__main__":
    main()
