"""Surrogates of the black box over latent points: LightGBM trees over the VQ-VAE's codes (`trees`, fitted through
ENTMOOT, whose quirks live in `entmoot_compat`), DNGO over a VAE's latents (`dngo`), and their held-out check
(`holdout`)."""
