# Exercise 5, a second solution: other seeds for the data sets and the permutations, counts instead of
# means, and a Wilson interval instead of Clopper-Pearson.
# ruff: noqa: F821  (runs in the notebook's namespace)

counts = {}
for h, (name, mi) in enumerate(hypotheses.items()):
    naive = perm = 0
    for i in range(n_datasets):
        x, y, _ = correlated_gaussian(n, dim, mi, seed=7_919 * (seed + 1) + 1_000 * h + i)
        res = permutation_test(est, x, y, n_permutations=n_permutations, seed=104_729 * (seed + 1) + 1_000 * h + i)
        naive += res.estimate.nats > 0
        perm += res.p_value <= alpha
    counts[name] = {"naive": naive / n_datasets, "permutation": perm / n_datasets}
rates = pd.DataFrame(counts)
null_rejections = round(rates.loc["permutation", next(iter(hypotheses))] * n_datasets)
size_interval = tuple(sps.binomtest(null_rejections, n_datasets).proportion_ci(0.95, method="wilson"))
