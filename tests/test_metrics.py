import pytest

from happy_utils.metrics import kth_best


def test_kth_best():
    assert kth_best([0.5, 2.0, 1.0, 3.0], 2) == 2.0
    assert kth_best([0.5, 2.0], 10) == 0.5  # the min(K, N)-th while fewer than K
    with pytest.raises(ValueError, match="at least one"):
        kth_best([], 10)
