"""Clusters: K-means on a model's embeddings or probabilities (of dataset faces, or for an admin
also a recorded session), seen on the first two principal components, with elbow/silhouette and
a table of clusters against labels. Reviewers see no recorded sessions here."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# any page may be the first one a user opens, so each imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

import numpy as np
import streamlit as st

from fer.evaluation import cluster, cluster_plots
from ui import auth, research

SOURCES = ("Dataset split", "Recorded session")
SPLITS = ("PrivateTest", "PublicTest", "Training")
FLAT_SECOND_AXIS = 0.01  # share of variance below which the plot's vertical spread is noise


# Shared by all users, so only for dataset faces: a recorded session's points are patient data,
# which no cache shared across users may hold; they are clustered on each run instead.
@st.cache_data(show_spinner="Clustering…")
def cluster_dataset_points(features: np.ndarray, k: int, seed: int) -> cluster.ClusterResult:
    return cluster.cluster_features(features, k, seed)


@st.cache_data(show_spinner="Sweeping k…")
def sweep_dataset_points(features: np.ndarray, k_low: int, k_high: int, seed: int):
    return cluster.k_sweep(features, range(k_low, k_high + 1), seed)


def dataset_features(seed: int) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    model_dir = research.pick_model("clusters.model")
    if model_dir is None:
        return None
    data_dir = research.data_dir()
    if data_dir is None:
        st.info(research.NO_DATA_MESSAGE)
        return None
    left, middle, right = st.columns(3)
    split = left.selectbox("Split", SPLITS, key="clusters.split")
    n_faces = middle.slider("Faces (seeded subset)", 100, 3000, 500, step=100, key="clusters.n")
    kind = right.radio(
        "Features",
        ("embeddings", "probabilities"),
        key="clusters.kind",
        help="Embeddings: the model's penultimate layer. Probabilities: its softmax output.",
    )
    outputs = research.usable_split_outputs(
        model_dir, data_dir, split, n_faces, seed, kind == "embeddings"
    )
    if outputs is None:
        return None
    features = outputs["embeddings" if kind == "embeddings" else "probabilities"]
    return features, outputs["labels"], outputs["classes"]


def session_features(user) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    from fer.sessions.replay import class_columns
    from ui.sessions import record_view

    store = research.session_store()
    session_id = research.pick_session(store, "clusters.session", user)
    if session_id is None:
        return None
    frames = store.load_frames(session_id, viewer=user)
    record_view(store.get_session(session_id, viewer=user))
    prefix = st.radio(
        "Probabilities",
        ("smoothed_", "prob_"),
        key="clusters.prefix",
        format_func={"smoothed_": "smoothed", "prob_": "raw (per frame)"}.get,
    )
    classes = class_columns(frames, prefix)
    if len(frames) < 3:
        st.info("This session has fewer than 3 frames: too few to cluster.")
        return None
    features = frames[[prefix + name for name in classes]].to_numpy()
    return features, frames["label"].to_numpy(), classes


def main() -> None:
    user = auth.require_role(*auth.RESEARCH_ROLES)
    st.title("Clusters")
    st.caption(
        "Do faces group by expression in the model's feature space? K-means ignores the labels; "
        "the table below compares clusters with them afterwards."
    )
    # Recorded sessions are patient data: offered only to a role that may see them.
    if user.role in auth.PATIENT_DATA_ROLES:
        source = st.radio("Source", SOURCES, horizontal=True, key="clusters.source")
    else:
        source = SOURCES[0]
    seed = int(st.number_input("Seed", 0, 10_000, 0, key="clusters.seed"))
    picked = dataset_features(seed) if source == SOURCES[0] else session_features(user)
    if picked is None:
        return
    features, labels, classes = picked
    max_k = int(min(12, len(features) - 1, cluster.n_distinct_points(features)))
    if max_k < 2:
        st.info("These points are (nearly) all identical: there is nothing to cluster.")
        return
    if max_k > 2:
        k = st.slider(
            "Number of clusters (k)", 2, max_k, min(len(classes), max_k), key="clusters.k"
        )
    else:
        k = 2
        st.caption("Only k = 2 is possible with this few points.")
    from_dataset = source == SOURCES[0]
    if from_dataset:
        result = cluster_dataset_points(features, k, seed)
    else:
        with st.spinner("Clustering…"):
            result = cluster.cluster_features(features, k, seed)
    columns = st.columns(3)
    columns[0].metric("Points", f"{len(features):,}")
    columns[1].metric("Silhouette", f"{result.silhouette:.3f}")
    columns[2].metric("Inertia", f"{result.inertia:,.1f}")
    table = cluster.contingency_table(result.labels, labels, classes, k=k)
    names = np.asarray(classes)[labels] if np.asarray(labels).dtype.kind in "iu" else labels
    hover = [f"label: {name}" for name in names]
    st.plotly_chart(
        cluster_plots.cluster_scatter(
            result.projection,
            result.labels,
            result.centroid_projection,
            hover,
            result.explained_variance,
        )
    )
    if result.explained_variance[1] < FLAT_SECOND_AXIS:
        st.caption(
            "The points differ almost only along the first axis: the spread along the second "
            "is too small to mean anything."
        )
    st.subheader("Clusters × labels")
    st.dataframe(table)
    st.caption(
        f"Purity (share of points in their cluster's majority label): "
        f"{cluster.cluster_purity(table):.1%}"
    )
    st.subheader("Choosing k")
    if not st.toggle("Sweep k (elbow and silhouette; one K-means per k)", key="clusters.sweep"):
        return
    k_low, k_high = (
        st.slider("k range", 2, max_k, (2, max_k), key="clusters.k_range") if max_k > 2 else (2, 2)
    )
    if k_high > k_low:
        if from_dataset:
            sweep = sweep_dataset_points(features, k_low, k_high, seed)
        else:
            with st.spinner("Sweeping k…"):
                sweep = cluster.k_sweep(features, range(k_low, k_high + 1), seed)
        st.plotly_chart(cluster_plots.elbow_chart(sweep))
    elif max_k > 2:
        st.info("Pick a range of at least two values of k.")
    else:  # no slider was offered: the points allow k = 2 only
        st.info("These points allow only k = 2, so there is no range of k to compare.")


if __name__ == "__main__":
    main()
