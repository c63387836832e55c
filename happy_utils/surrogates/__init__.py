"""Surrogates of the black box over latent points: LightGBM trees over the VQ-VAE's codes (`trees`, fitted through
ENTMOOT, whose quirks live in `entmoot_compat`), the data each cycle fits them on (`fit_set`), and their held-out
check (`holdout`)."""
