"""Smile scorers: the black box's interface (`base`), the synthetic oracle and judge (`synthetic`), Talk-to-Edit's
CelebA predictor (`predictor`), where each source's scorers come from (`loading`), and image quality (`fid`)."""
