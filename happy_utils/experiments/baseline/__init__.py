"""The paper's continuous latent space optimisation baseline (its Tables 5-7): a VAE (`vae`), a DNGO surrogate over
its latent means (`dngo`), and expected improvement maximised by SLSQP under a Gaussian-mixture density constraint
(`slsqp`). The harness compares the method with it; the lesson never uses it."""
