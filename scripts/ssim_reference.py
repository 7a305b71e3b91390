"""Reference SSIM values for meshflow's grid SSIM test (geometry/src/metrics.rs,
`ssim_grid_matches_scikit_image`). Run: python3 scripts/ssim_reference.py
Needs numpy and scikit-image (checked with scikit-image 0.26.0)."""
import numpy as np
from skimage.metrics import structural_similarity

nr, nc = 24, 37
r, c = np.meshgrid(np.arange(nr, dtype=np.float64), np.arange(nc, dtype=np.float64), indexing="ij")
truth = (0.5 + 0.25 * np.sin(0.3 * r) + 0.2 * np.cos(0.2 * c)).astype(np.float32)
pred = (truth.astype(np.float64) + 0.1 * np.sin(0.7 * r * c + 0.1 * r)).astype(np.float32)
for data_range in (1.0, 2.0):
    s = structural_similarity(pred.astype(np.float64), truth.astype(np.float64), data_range=data_range,
                              gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    print(f"data_range={data_range}: {s!r}")
