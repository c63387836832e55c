"""Generative models whose latent space is searched: the protocol the loop uses (`base`), their shared training
(`training`) and the paper's VQ-VAE (`vqvae`); the continuous baseline's VAE is the harness's
(`experiments.baseline`)."""
