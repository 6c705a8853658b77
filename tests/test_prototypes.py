"""Placing prototypes: each source's separated groups, then their combinations."""

from __future__ import annotations

import numpy as np
from segassist.training.prototypes import place, source_groups, valley_depth
from sklearn.metrics import adjusted_rand_score


def test_a_valley_between_groups_is_deep_and_a_cut_mass_has_none():
    rng = np.random.default_rng(0)
    apart = valley_depth(rng.normal(0, 1, 800), rng.normal(6, 1, 800))
    one = rng.normal(0, 1, 1600)
    cut = valley_depth(one[one < 0], one[one >= 0])
    skewed = rng.lognormal(0, 1, 1600)  # a long tail is not a second group either
    tail = valley_depth(skewed[skewed < 2], skewed[skewed >= 2])
    assert apart > 0.8 and cut < 0.2 and tail < 0.2


def test_groups_are_found_only_where_they_are_separated():
    rng = np.random.default_rng(1)
    centres = np.zeros((3, 6))
    centres[:, 0] = [-6, 0, 6]
    blobs = np.concatenate([c + rng.normal(0, 1, (500, 6)) for c in centres])
    labels = source_groups(blobs, seed=0)
    truth = np.repeat([0, 1, 2], 500)
    assert adjusted_rand_score(truth, labels) > 0.95
    assert source_groups(rng.normal(0, 1, (1500, 6)), seed=0).max() == 0


def _two_by_two(n: int, seed: int):
    """Two sources, each with two groups along one of 8 directions, independent of each
    other: only together do they show the four segments."""
    rng = np.random.default_rng(seed)
    buying, topic = rng.integers(0, 2, n), rng.integers(0, 2, n)
    behaviour = rng.normal(0, 1, (n, 8))
    behaviour[:, 3] += 4 * buying
    text = rng.normal(0, 1, (n, 8)) * np.linspace(3, 0.5, 8)  # the topic is not the top axis
    text[:, 5] += 6 * topic
    return np.hstack([behaviour, text]), buying * 2 + topic


def test_segments_are_the_combinations_of_the_sources_groups():
    from sklearn.cluster import KMeans

    z, truth = _two_by_two(3000, 0)
    sources = [
        ("behaviour", slice(0, 8), np.ones(len(z), bool)),
        ("text", slice(8, 16), np.ones(len(z), bool)),
    ]
    for k in ("auto", 4):
        centres, groups, made = place(z, sources, k, min_share=0.02, seed=0)
        assert groups == {"behaviour": 2, "text": 2} and len(centres) == 4 and made
        nearest = ((z[:, None] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        assert adjusted_rand_score(truth, nearest) > 0.88  # 2% of each group lie past the middle
    # k-means on the whole space splits the wide text axis instead (why place exists).
    whole = KMeans(4, n_init=10, random_state=0).fit(z).labels_
    assert adjusted_rand_score(truth, whole) < 0.8


def test_without_separated_groups_k_is_set_or_chosen_by_silhouette():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 1, (1200, 6))
    sources = [("behaviour", slice(0, 6), np.ones(len(z), bool))]
    centres, groups, made = place(z, sources, 5, min_share=0.02, seed=0)
    assert len(centres) == 5 and groups == {"behaviour": 1} and not made
    centres, _, made = place(z, sources, "auto", min_share=0.02, seed=0)
    assert 3 <= len(centres) <= 8 and not made


def test_customers_without_text_do_not_form_a_text_group():
    """Text groups come from the customers who wrote; the others are placed by behaviour."""
    z, truth = _two_by_two(3000, 3)
    wrote = np.random.default_rng(3).random(len(z)) > 0.3
    z[~wrote, 8:] = 0.0  # as the segment space codes a customer without text
    sources = [
        ("behaviour", slice(0, 8), np.ones(len(z), bool)),
        ("text", slice(8, 16), wrote),
    ]
    centres, groups, _ = place(z, sources, "auto", min_share=0.02, seed=0)
    assert groups == {"behaviour": 2, "text": 2} and len(centres) == 4
    nearest = ((z[:, None] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert adjusted_rand_score(truth[wrote], nearest[wrote]) > 0.88


def test_groups_k_means_misses_are_found_at_the_valley():
    """Two groups apart along a narrow axis, next to a wide unimodal one: 2-means cuts the
    wide axis (no valley there), splitting at the deepest valley finds the groups."""
    from segassist.training.prototypes import _kmeans, separation

    rng = np.random.default_rng(4)
    side = rng.integers(0, 2, 2000)
    x = np.column_stack([rng.normal(0, 4, 2000), 4 * side - 2 + rng.normal(0, 0.5, 2000)])
    fitted = _kmeans(x, 2, 0)
    assert adjusted_rand_score(side, fitted.labels_) < 0.2
    assert separation(x, fitted.labels_, fitted.cluster_centers_) < 0.5
    labels = source_groups(x, seed=0, min_side=40)
    assert labels.max() == 1 and adjusted_rand_score(side, labels) > 0.95


def test_two_groups_are_not_two_segments_when_k_is_chosen():
    """Two halves of the customers are too coarse to target: with K chosen, fewer than
    three groups give way to a partition by silhouette (and the line says why)."""
    from segassist.training.prototypes import groups_sentence

    rng = np.random.default_rng(5)
    half = rng.integers(0, 2, 2000)
    z = rng.normal(0, 1, (2000, 4))
    z[:, 0] += 6 * half
    sources = [("behaviour", slice(0, 4), np.ones(len(z), bool))]
    centres, groups, made = place(z, sources, "auto", min_share=0.02, seed=0)
    assert groups == {"behaviour": 2} and not made and len(centres) >= 3
    line = groups_sentence(groups, len(centres), made)
    assert "too few groups for the segments" in line


def test_a_shallow_cut_below_the_separated_groups_is_not_taken():
    """Four groups apart by valleys, the fourth with a fifth close beside it: k-means
    with 3 groups is as reproducible as with 4 (the same cut each time) but cuts
    through a group (0.33 apart); the number of groups stays 4."""
    rng = np.random.default_rng(2)
    centres = np.zeros((5, 6))
    centres[:4, 0] = [-9, -3, 3, 9]
    centres[4] = centres[3]
    centres[4, 1] = 3.2
    x = np.concatenate([c + rng.normal(0, 1, (400, 6)) for c in centres])
    assert source_groups(x, seed=0).max() + 1 == 4
