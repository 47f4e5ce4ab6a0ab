# Exercise 6, a second solution: fractions visited from the largest down, f_hidden found by walking back
# from full encryption, rows stored in that reverse order.
# ruff: noqa: F821  (runs in the notebook's namespace)

records = []
for f in sorted(fractions, reverse=True):
    z_cipher = emb.embed(se[f], progress=False)
    res = measure_leakage(z_plain, z_cipher, est, pca_dim=pca_dim, permutations=n_permutations, n_boot=0, seed=seed)
    records.append(
        {
            "f": f,
            "mi_nats": res.nats,
            "p_value": res.p_value,
            "same_label": neighbour_label_accuracy(z_cipher, z_plain, labels),
        }
    )
results = pd.DataFrame.from_records(records)
f_hidden = None
for rec in records:  # largest f first: stop at the first box where the test detects leakage
    if rec["p_value"] <= alpha:
        break
    f_hidden = rec["f"]
