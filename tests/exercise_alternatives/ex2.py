# Exercise 2, a second solution: part A through the keystream, part B scored by the correlation of
# horizontally adjacent pixel values of C_i xor C_j (any scale, unsorted table).
# ruff: noqa: F821  (runs in the notebook's namespace)

keystream = c1 ^ p1_known
p2_recovered = (c2 ^ keystream).astype(np.uint8)


def adjacent_correlation(x):
    x = x.astype(np.float64)
    return float(np.corrcoef(x[:, 1:].ravel(), x[:, :-1].ravel())[0, 1])


rows = []
for j in range(n_images):
    for i in range(j):
        rows.append((i, j, adjacent_correlation(ct_b[i] ^ ct_b[j])))
scores = pd.DataFrame(rows, columns=["i", "j", "score"])
top = scores.nlargest(2, "score")
found = tuple(int(v) for v in top.iloc[0][["i", "j"]])
ratio_best_second = top.iloc[0]["score"] / top.iloc[1]["score"]
