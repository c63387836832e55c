"""Generative models whose latent space is searched: the protocol the loop uses (`base`), their shared training
(`training`), the paper's VQ-VAE (`vqvae`) and the continuous baseline's VAE (`vae`)."""
