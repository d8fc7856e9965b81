"""Online clustering on synthetic embeddings: purity, confirmation, cap, stable labels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from jiesu.engine.diarize.clustering import Assignment, ClusterConfig, OnlineClusterer

DIM = 192


def speakers(n: int, seed: int = 0) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, DIM))
    return base / np.linalg.norm(base, axis=1, keepdims=True)


def noisy(centre: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    # Noise of this size gives cosine ~0.87 to the centre (~0.77 between two windows of one
    # speaker), ~0 across speakers.
    v = centre + 0.04 * rng.normal(size=DIM)
    return v / np.linalg.norm(v)


def run(clusterer: OnlineClusterer, vecs: list[npt.NDArray[np.float64]]) -> dict[int, int]:
    got: dict[int, int] = {}
    for v in vecs:
        for a in clusterer.add(v):
            assert a.speaker is not None
            assert a.window not in got, "a window was assigned twice"
            got[a.window] = a.speaker
    for a in clusterer.flush():
        assert a.speaker is not None
        got[a.window] = a.speaker
    return got


def test_three_speakers_are_separated_and_numbered_in_order_of_appearance() -> None:
    rng = np.random.default_rng(1)
    cents = speakers(3)
    truth = [2] * 6 + [0] * 6 + [2] * 3 + [1] * 6 + [0] * 3
    got = run(OnlineClusterer(), [noisy(cents[t], rng) for t in truth])
    assert sorted(got) == list(range(len(truth)))
    # First speaker to talk (truth 2) is 0, then truth 0 is 1, then truth 1 is 2.
    expect = {2: 0, 0: 1, 1: 2}
    assert [got[i] for i in range(len(truth))] == [expect[t] for t in truth]


def test_one_odd_window_does_not_create_a_speaker() -> None:
    rng = np.random.default_rng(2)
    cents = speakers(2, seed=3)
    vecs = [noisy(cents[0], rng) for _ in range(5)]
    vecs.insert(3, noisy(cents[1], rng))
    clusterer = OnlineClusterer()
    got = run(clusterer, vecs)
    assert clusterer.n_speakers == 1
    assert set(got.values()) == {0}


def test_without_confirmation_one_window_creates_a_speaker() -> None:
    rng = np.random.default_rng(2)
    cents = speakers(2, seed=3)
    vecs = [noisy(cents[0], rng), noisy(cents[1], rng), noisy(cents[0], rng)]
    clusterer = OnlineClusterer(ClusterConfig(confirm_new=False))
    assert run(clusterer, vecs) == {0: 0, 1: 1, 2: 0}


def test_candidate_is_resolved_with_the_confirming_window() -> None:
    rng = np.random.default_rng(4)
    cents = speakers(2, seed=5)
    clusterer = OnlineClusterer()
    assert clusterer.add(noisy(cents[0], rng)) == [Assignment(0, 0, 1.0)]
    assert clusterer.add(noisy(cents[1], rng)) == []  # pending
    resolved = clusterer.add(noisy(cents[1], rng))
    assert [(a.window, a.speaker) for a in resolved] == [(1, 1), (2, 1)]


def test_max_speakers_caps_new_speakers() -> None:
    rng = np.random.default_rng(6)
    cents = speakers(4, seed=7)
    truth = [0, 0, 1, 1, 2, 2, 3, 3]
    clusterer = OnlineClusterer(ClusterConfig(max_speakers=2))
    got = run(clusterer, [noisy(cents[t], rng) for t in truth])
    assert clusterer.n_speakers == 2
    assert set(got.values()) == {0, 1}


def test_labels_are_never_renamed_as_centroids_move() -> None:
    rng = np.random.default_rng(8)
    cents = speakers(2, seed=9)
    clusterer = OnlineClusterer()
    first = run(clusterer, [noisy(cents[0], rng) for _ in range(3)])
    before = clusterer.centroids().copy()
    later = run(clusterer, [noisy(cents[i % 2], rng) for i in range(20)])
    # The first speaker keeps index 0 and its centroid still points the same way.
    assert set(first.values()) == {0}
    assert later[3] == 0
    assert float(clusterer.centroids()[0] @ before[0]) > 0.9


@pytest.mark.parametrize("bad", [np.zeros(DIM), np.full(DIM, np.nan)])
def test_degenerate_embeddings_are_refused(bad: npt.NDArray[np.float64]) -> None:
    with pytest.raises(ValueError, match="finite and non-zero"):
        OnlineClusterer().add(bad)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        ClusterConfig(max_speakers=0)
    with pytest.raises(ValueError):
        ClusterConfig(new_speaker_threshold=2.0)
