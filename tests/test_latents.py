import numpy as np
import torch

from happy_utils.generators.vqvae import VQVAE, VQVAEConfig
from happy_utils.latents import LatentRows


class CountingVQVAE(VQVAE):
    """Counts the images it encodes."""

    encoded = 0

    def encode(self, images, batch_size=512):
        self.encoded += len(images)
        return super().encode(images, batch_size)


def test_rows_encoded_on_read_equal_encoding_everything_and_only_read_rows_are_encoded():
    torch.manual_seed(0)
    vq = CountingVQVAE(VQVAEConfig(width=8)).eval()
    images = torch.randint(0, 256, (40, 3, 64, 64), dtype=torch.uint8)
    everything = vq.encode(images).reshape(40, -1).numpy()
    vq.encoded = 0
    tail = np.full((2, 64), 7, dtype=everything.dtype)  # queries' latents as queried: never re-encoded
    rows = LatentRows.encoded_on_read(vq, images, tail)
    assert rows.shape == (42, 64) and len(rows) == 42 and vq.encoded == 0
    picked = np.array([3, 17, 17, 41, 5])
    assert np.array_equal(rows[picked], np.vstack([everything[[3, 17, 17]], tail[1:], everything[[5]]]))
    assert vq.encoded == 3 and rows.encoded == 3  # 17 once; the tail row is known
    assert np.array_equal(rows[17], everything[17]) and vq.encoded == 3  # read again: not encoded again
    rows.append(np.zeros(64, dtype=everything.dtype))
    assert np.array_equal(np.asarray(rows), np.vstack([everything, tail, np.zeros((1, 64))]))
    assert vq.encoded == 40 and rows.seconds > 0
    copy = np.asarray(rows)
    copy[0, 0] = -5
    assert rows[0][0] == everything[0, 0]  # the array handed out is a copy
