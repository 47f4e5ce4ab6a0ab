# Exercise 7, a second solution: k in the outer loop, the pixel count from the shape, rows appended as
# tuples, and the smallest side from a sorted scan.
# ruff: noqa: F821  (runs in the notebook's namespace)

rows = []
for k in msb_k:
    for side in sorted(batches):
        x = batches[side]
        y = encrypt(x, key, BitPlanes.msb(k), seed=seed).images
        rows.append(
            (
                int(np.prod(x.shape[1:3])),
                k,
                side,
                pixel_mi_exact(x, BitPlanes.msb(k)),
                pixel_mi_plugin(x, y),
                pixel_mi_plugin(x, y, correction="miller-madow"),
            )
        )
table = pd.DataFrame(rows, columns=["pixels", "k", "side", "exact", "plugin", "mm"])
smallest_side = {}
for k in msb_k:
    good = table[(table["k"] == k) & ((table["mm"] - table["exact"]).abs() <= tolerance_bits)]
    smallest_side[k] = int(good["side"].min()) if len(good) else None
