# Exercise 4, a second solution: subsets from a permutation of the pool, the power as a Series turned into
# a frame, the smallest N by a scan.
# ruff: noqa: F821  (runs in the notebook's namespace)


def detects(n, r):
    rng = np.random.default_rng((seed, r, n, 4))
    chosen = rng.permutation(len(plain))[:n]
    res = measure_leakage(
        z_plain[chosen],
        z_seen[chosen],
        est,
        pca_dim=pca_dim,
        permutations=n_permutations,
        n_boot=0,
        seed=int(rng.integers(2**31)),
    )
    return res.p_value


hits = {n: np.mean([detects(n, r) <= alpha for r in range(n_repeats)]) for n in sorted(sample_sizes)}
power = pd.Series(hits, name="power").rename_axis("N").to_frame()
smallest_n = None
for n in power.index:
    if power.loc[n, "power"] >= target_power:
        smallest_n = int(n)
        break
