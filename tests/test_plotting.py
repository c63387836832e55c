import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from happy_utils import plotting  # noqa: E402


def test_query_trace_draws_best_so_far_and_a_line_after_each_fine_tune():
    scores = [1.0, 2.5, 2.0, 3.0, 1.5, 2.2]
    records = [{"index": i, "score": s, "retrain": {"number": i // 3} if (i + 1) % 3 == 0 else None}
               for i, s in enumerate(scores)]
    ax = plotting.query_trace(records, reference=2.6).axes[0]
    points, best = ax.lines[0], ax.lines[1]
    assert list(points.get_xdata()) == list(range(6))
    assert list(best.get_ydata()) == [1.0, 2.5, 2.5, 3.0, 3.0, 3.0]
    vertical = [line.get_xdata()[0] for line in ax.lines[2:] if line.get_xdata()[0] == line.get_xdata()[1]]
    assert vertical == [2.5, 5.5]
    assert ax.lines[-1].get_ydata()[0] == 2.6


def test_weight_curve_marks_the_highlighted_points_at_their_rank():
    weights = np.array([0.1, 0.5, 0.3, 0.05])
    ax = plotting.weight_curve(weights, highlight=np.array([1, 3])).axes[0]
    marked = ax.lines[1]
    assert list(marked.get_xdata()) == [1, 4]
    assert list(marked.get_ydata()) == [0.5, 0.05]
