# Exercise 3, a second solution: the estimators in the outer loop, the table assembled from a dict of
# lists, rows in another order, and the rank correlation computed with scipy.
# ruff: noqa: F821  (runs in the notebook's namespace)
from scipy.stats import spearmanr

columns = {"estimator": [], "k": [], "mi_nats": [], "p_value": []}
for name, (estimator, n_components) in estimators.items():
    for k in sorted(lsb_k, reverse=True):
        res = measure_leakage(
            z_plain, z_se[k], estimator, pca_dim=n_components, permutations=n_permutations, n_boot=0, seed=seed
        )
        for col, value in zip(columns, (name, k, res.nats, res.p_value)):
            columns[col].append(value)
table = pd.DataFrame(columns)
curves = {name: grp.sort_values("k")["mi_nats"].to_numpy() for name, grp in table.groupby("estimator")}
labels = sorted(curves)
agreement = pd.DataFrame(
    [[spearmanr(curves[a], curves[b]).statistic for b in labels] for a in labels], index=labels, columns=labels
)
