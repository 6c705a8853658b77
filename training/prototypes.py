"""Placing segment prototypes in the segment space: each source's own groups, then their
combinations.

k-means on the whole space with K set was measured to prefer the wrong answer
where only the combination of the sources tells segments apart: two ways of
buying x two review topics, each perfectly separable in its own source
(k-means with k = 2 on either finds its groups at ARI 0.97), gave ARI 0.42
jointly, and the true partition has a *higher* within-segment sum of squares
than the one k-means finds (1,989 vs 1,895): splitting one topic again lowers
the sum of squares more than the behaviour split, although the topic is one
unbroken mass and the behaviour groups are separated by a valley. What tells a
real group from an arbitrary cut is that valley, so:

1. in each source (behaviour; text, for customers who wrote some), k-means for
   k = 2 .. K_MAX: the source shows groups when some k has every segment
   separated from its nearest neighbour by a density valley (`valley_depth` >=
   VALLEY) along the line joining their centres, and the number of groups is the
   most reproducible k (`stability`) of those and of the larger k at least
   SHALLOW apart (a valley sits near the threshold where two true groups touch,
   or where many customers share one value); when no k passes, splitting at the deepest
   valley along principal directions (`split_at_valleys`: k-means misses a
   separated pair of groups when another direction has more spread; with real
   reviews about tuners and microphones, behaviour showed no k-means groups and
   the segments scored ARI 0.43; split at valleys, 0.81); no valley at all
   means the source has no groups;
2. segments are the combinations of the sources' groups that hold at least
   `min_share` of the customers (all of them when K is set: the K largest);
3. prototypes start at those combinations' centres and are refined by k-means
   on the whole space, so scoring (nearest prototype) matches training; where the
   text showed groups, the segmenter then re-estimates them with the text code in
   the segments' own units (`FusionSegmenter._in_segment_units`).

With no groups in any source (common on real data: customers spread out
without valleys), segments are still useful as a partition: k-means on the
whole space, K as set or the one of 3-8 with the best silhouette.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K_MAX = 8
K_MIN_AUTO = 3  # fewer groups than this, K chosen: a partition by silhouette instead
VALLEY = 0.5  # the valley must be at most half the lower of the two peaks
# Once a source shows groups (some k separated by VALLEY), the number of them is chosen
# among the k whose groups are all at least this far apart, by how reproducible each
# partition is. The largest k separated by VALLEY was wrong on 6 of 20 synthetic draws
# (every `synth --mode`, 1,500-5,000 customers): a true pair 0.32-0.49 apart merged (2-4
# groups for 5), or lumps of one value (a rating of 0 for non-reviewers) counted as
# groups (6-8 for 5). With this rule all 20 get the true k; one was a near tie (0.93 for
# the true 5, 0.94 for 6).
SHALLOW = 0.3
TIE = 0.02  # stabilities this close are a tie: the deeper valleys win
STABILITY_REPEATS = 10
STABILITY_SAMPLE = 4_000  # customers k-means is refitted on for stability
# Densities are smoothed 1.5x more than Silverman's rule: counts (orders, reviews) make
# lumpy projections whose gaps are not valleys between groups of customers (the Amazon
# reviews showed "4 groups" at 1x and none at 1.5x; the synthetic groups stay).
SMOOTHING = 1.5
DENSITY_SAMPLE = 4_000  # points per density estimate
SEARCH_SAMPLE = 20_000  # customers used to find each source's groups
# Silhouette is quadratic in customers: it is scored on a sample.
SILHOUETTE_SAMPLE = 10_000


def _density(values: np.ndarray, low: float, high: float, grid: int = 200):
    """A smoothed density of 1-D `values` on `grid` points from low to high."""
    if len(values) > DENSITY_SAMPLE:
        values = np.random.default_rng(0).choice(values, DENSITY_SAMPLE, replace=False)
    spread = values.std()
    iqr = np.subtract(*np.percentile(values, [75, 25]))
    robust = min(spread, iqr / 1.34) if iqr > 0 else spread
    bandwidth = SMOOTHING * 0.9 * robust * len(values) ** -0.2 + 1e-12  # Silverman's x 1.5
    points = np.linspace(low, high, grid)
    return points, np.exp(-0.5 * ((points[:, None] - values[None, :]) / bandwidth) ** 2).sum(axis=1)


def _depths(density: np.ndarray) -> np.ndarray:
    """At each point, 1 - density / (lower of the highest peaks to its left and right)."""
    left = np.maximum.accumulate(density)
    right = np.maximum.accumulate(density[::-1])[::-1]
    return 1 - density / np.minimum(left, right)


def valley_depth(a: np.ndarray, b: np.ndarray) -> float:
    """How deep the density valley between two groups of 1-D values is: 1 - (lowest
    density between their medians) / (lower of the peaks on either side); 0 when
    one mass was cut in two, near 1 when the groups are apart."""
    low, high = sorted((np.median(a), np.median(b)))
    if high - low < 1e-9:
        return 0.0
    _, density = _density(np.concatenate([a, b]), low, high)
    return float(_depths(density).max())


def deepest_cut(values: np.ndarray, min_side: int) -> tuple[float, float]:
    """The deepest valley anywhere in 1-D `values` leaving at least `min_side` values on
    each side: (depth, where)."""
    points, density = _density(values, *np.percentile(values, [1, 99]))
    depths = _depths(density)
    ordered = np.sort(values)
    for i in np.argsort(-depths)[:20]:
        if depths[i] <= 0:
            break
        left = int(np.searchsorted(ordered, points[i]))
        if min(left, len(values) - left) >= min_side:
            return float(depths[i]), float(points[i])
    return 0.0, 0.0


def separation(x: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> float:
    """The shallowest valley between any group and its nearest neighbour."""
    depths = []
    for i, centre in enumerate(centres):
        distance = ((centres - centre) ** 2).sum(axis=1)
        distance[i] = np.inf
        j = int(distance.argmin())
        direction = (centres[j] - centre) / (np.linalg.norm(centres[j] - centre) + 1e-12)
        depths.append(valley_depth(x[labels == i] @ direction, x[labels == j] @ direction))
    return min(depths)


def _kmeans(x: np.ndarray, k: int, seed: int, init: np.ndarray | None = None):
    from sklearn.cluster import KMeans

    if init is None:
        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    return KMeans(n_clusters=k, init=init, n_init=1, random_state=seed).fit(x)


def stability(x: np.ndarray, k: int, seed: int, repeats: int = STABILITY_REPEATS) -> float:
    """How reproducible k-means with k groups is: the mean ARI between the partitions of
    all of `x` by k-means fitted on two independent 80% samples, over `repeats` pairs
    (Ben-Hur et al. 2002; Lange et al. 2004). Near 1 when k matches groups the data
    holds; lower when one group is split arbitrarily or two are merged."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed)
    if len(x) > STABILITY_SAMPLE:
        x = x[rng.choice(len(x), STABILITY_SAMPLE, replace=False)]
    size = int(0.8 * len(x))
    agreement = []
    for r in range(repeats):
        a, b = (rng.choice(len(x), size, replace=False) for _ in range(2))
        fit_a = KMeans(k, n_init=4, random_state=seed + r).fit(x[a])
        fit_b = KMeans(k, n_init=4, random_state=seed + repeats + r).fit(x[b])
        agreement.append(adjusted_rand_score(fit_a.predict(x), fit_b.predict(x)))
    return float(np.mean(agreement))


def source_groups(x: np.ndarray, seed: int, min_side: int = 20, k_max: int = K_MAX) -> np.ndarray:
    """Labels of k-means groups when some k (2 .. k_max) has every group separated from
    its nearest neighbour by a valley (>= VALLEY); k is then the most reproducible
    (`stability`) of those k and of the larger k whose groups are all at least SHALLOW
    apart, the better separated on a near tie. Failing every k, the groups
    `split_at_valleys` finds; all zeros for none."""
    fits, separated = {}, {}
    for k in range(2, min(k_max, len(x) // 10) + 1):
        fits[k] = _kmeans(x, k, seed)
        separated[k] = separation(x, fits[k].labels_, fits[k].cluster_centers_)
    if not any(depth >= VALLEY for depth in separated.values()):
        return split_at_valleys(x, seed, min_side, k_max)
    finest = max(k for k, depth in separated.items() if depth >= VALLEY)
    # Below the finest k apart by a valley, a shallow one cuts through a group; above it,
    # it may be two groups that touch.
    candidates = [
        k for k, depth in separated.items() if depth >= VALLEY or (k > finest and depth >= SHALLOW)
    ]
    steady = {k: stability(x, k, seed) for k in candidates} if len(candidates) > 1 else {}
    tied = [k for k in candidates if not steady or steady[k] >= max(steady.values()) - TIE]
    k = max(tied, key=lambda k: separated[k])
    return fits[k].labels_.astype(np.int64)


def _best_cut(x: np.ndarray, seed: int, min_side: int):
    """The deepest valley along the group's principal directions and its 2-means
    direction: (depth, direction, where)."""
    if len(x) < 2 * min_side:
        return 0.0, None, 0.0
    centred = x - x.mean(axis=0)
    directions = list(np.linalg.svd(centred, full_matrices=False)[2])
    centres = _kmeans(x, 2, seed).cluster_centers_
    directions.append((centres[1] - centres[0]) / (np.linalg.norm(centres[1] - centres[0]) + 1e-12))
    best = (0.0, None, 0.0)
    for direction in directions:
        depth, where = deepest_cut(x @ direction, min_side)
        if depth > best[0]:
            best = (depth, direction, where)
    return best


def split_at_valleys(x: np.ndarray, seed: int, min_side: int, k_max: int = K_MAX) -> np.ndarray:
    """Divisive: split the group with the deepest valley (>= VALLEY) along a candidate
    direction, until none is left or there are k_max groups. Finds groups that k-means
    misses when another direction has more spread than the one that separates them
    (principal-direction divisive partitioning by density, after dePDDP)."""
    labels = np.zeros(len(x), dtype=np.int64)
    cuts = {0: _best_cut(x, seed, min_side)}
    while len(cuts) < k_max:
        group = max(cuts, key=lambda g: cuts[g][0])
        depth, direction, where = cuts[group]
        if depth < VALLEY:
            break
        rows = np.flatnonzero(labels == group)
        new = len(cuts)
        labels[rows[x[rows] @ direction > where]] = new
        for g in (group, new):
            cuts[g] = _best_cut(x[labels == g], seed, min_side)
    return labels


@dataclass
class Cells:
    """The combinations of the sources' groups, on a sample of the customers."""

    sample: np.ndarray  # customers' z (at most SEARCH_SAMPLE of them)
    cells: np.ndarray  # each sampled customer's combination
    complete: np.ndarray  # has every source that shows groups
    groups: dict[str, int]  # separated groups per source (1: none)


def find_cells(
    z: np.ndarray, sources: list[tuple[str, slice, np.ndarray]], min_share: float, seed: int
) -> Cells:
    """Each source's groups and their combinations; `sources` gives each source's name,
    columns in z and which customers have it."""
    rows = np.arange(len(z))
    if len(z) > SEARCH_SAMPLE:
        rows = np.sort(np.random.default_rng(seed).choice(len(z), SEARCH_SAMPLE, replace=False))
    sample = z[rows]
    complete = np.ones(len(rows), dtype=bool)
    cells = np.zeros(len(rows), dtype=np.int64)
    groups = {}
    for name, columns, present in sources:
        present = present[rows]
        labels = np.full(len(rows), -1)
        if present.sum() >= 20:
            min_side = max(20, int(min_share * len(rows)))
            labels[present] = source_groups(sample[present][:, columns], seed, min_side)
        groups[name] = int(labels.max()) + 1 if labels.max() > 0 else 1
        if labels.max() > 0:  # this source has groups: customers without it cannot place
            complete &= labels >= 0
            cells = cells * (labels.max() + 1) + labels.clip(min=0)
    return Cells(sample, cells, complete, groups)


def centres_from(
    z: np.ndarray, found: Cells, n_segments: int | str, min_share: float, seed: int
) -> tuple[np.ndarray, bool]:
    """Prototype centres (K, dims) for customers `z`, and whether they come from the
    sources' groups (else from k-means on the whole space)."""
    cells, complete = found.cells, found.complete
    kinds, counts = np.unique(cells[complete], return_counts=True)
    order = np.argsort(-counts)
    shares = counts[order] / len(cells)
    if n_segments == "auto":
        keep = kinds[order][shares >= min_share][:K_MAX]
    else:
        keep = kinds[order][: int(n_segments)]
    # Too few groups for K, or for a marketer when K is chosen (two halves of the
    # customers are not segments): k-means on the whole space.
    want = K_MIN_AUTO if n_segments == "auto" else int(n_segments)
    if len(keep) < want:
        return _whole_space(found.sample, n_segments, seed), False
    centres = np.stack([found.sample[complete & (cells == c)].mean(axis=0) for c in keep])
    return _kmeans(z, len(centres), seed, init=centres).cluster_centers_, True


def place(
    z: np.ndarray,
    sources: list[tuple[str, slice, np.ndarray]],
    n_segments: int | str,
    min_share: float,
    seed: int,
) -> tuple[np.ndarray, dict[str, int], bool]:
    """`find_cells` then `centres_from`: centres, groups per source, from groups."""
    found = find_cells(z, sources, min_share, seed)
    centres, from_groups = centres_from(z, found, n_segments, min_share, seed)
    return centres, found.groups, from_groups


def _whole_space(z: np.ndarray, n_segments: int | str, seed: int) -> np.ndarray:
    if n_segments != "auto":
        return _kmeans(z, int(n_segments), seed).cluster_centers_
    fits = {k: _kmeans(z, k, seed) for k in range(3, min(K_MAX, len(z) - 1) + 1)}
    scores = {k: silhouette(z, fit.labels_, seed) for k, fit in fits.items()}
    return fits[max(scores, key=scores.get)].cluster_centers_


def groups_sentence(groups: dict[str, int], n_segments: int, from_groups: bool = True) -> str:
    """One line on what each source showed and how the segments came of it."""
    if not groups:
        return f"{n_segments} segments."
    found = {name: k for name, k in groups.items() if k > 1}
    seen = ", ".join(
        f"{name}: {k} separated groups" if k > 1 else f"{name}: no separated groups"
        for name, k in groups.items()
    )
    if not found or not from_groups:
        why = "no source shows groups" if not found else "too few groups for the segments"
        return f"{seen}; {n_segments} segments by k-means on all sources ({why})."
    how = "their combinations" if len(found) > 1 else f"the {next(iter(found))} groups"
    return f"{seen}; {n_segments} segments from {how}."


def silhouette(space: np.ndarray, labels: np.ndarray, random_state: int = 0) -> float:
    """Silhouette of `labels` in `space`, on a sample of at most SILHOUETTE_SAMPLE points
    (the exact score is quadratic in customers); NaN with fewer than two segments."""
    from sklearn.metrics import silhouette_score

    if len(set(labels)) < 2 or len(set(labels)) >= len(labels):
        return float("nan")
    sample = min(len(space), SILHOUETTE_SAMPLE)
    return float(silhouette_score(space, labels, sample_size=sample, random_state=random_state))
