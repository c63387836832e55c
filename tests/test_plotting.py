import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from happy_utils import plotting  # noqa: E402
from happy_utils.data.cropping import square_box  # noqa: E402


def test_query_trace_draws_best_so_far_and_a_line_before_each_block_a_fine_tune_began():
    scores = [1.0, 2.5, 2.0, 3.0, 1.5, 2.2]
    records = [{"index": i, "score": s, "retrain": {"number": i // 3} if i % 3 == 0 else None}
               for i, s in enumerate(scores)]
    ax = plotting.query_trace(records, reference=2.6).axes[0]
    points, best = ax.lines[0], ax.lines[1]
    assert list(points.get_xdata()) == list(range(6))
    assert list(best.get_ydata()) == [1.0, 2.5, 2.5, 3.0, 3.0, 3.0]
    vertical = [line.get_xdata()[0] for line in ax.lines[2:] if line.get_xdata()[0] == line.get_xdata()[1]]
    assert vertical == [-0.5, 2.5]  # the fine-tunes ran before queries 0 and 3
    assert ax.lines[-1].get_ydata()[0] == 2.6


def test_weight_curve_marks_the_highlighted_points_at_their_rank():
    weights = np.array([0.1, 0.5, 0.3, 0.05])
    ax = plotting.weight_curve(weights, highlight=np.array([1, 3])).axes[0]
    marked = ax.lines[1]
    assert list(marked.get_xdata()) == [1, 4]
    assert list(marked.get_ydata()) == [0.5, 0.05]


def test_crop_boxes_draws_the_detected_box_and_the_cropped_square():

    photo = np.zeros((120, 100, 3), np.uint8)
    fig = plotting.crop_boxes([photo, photo], [(np.array([20.0, 30.0, 60.0, 80.0]), 0.99), None])
    before, after, before_none, after_none = fig.axes
    box, square = before.patches
    assert box.get_xy() == (20.0, 30.0) and (box.get_width(), box.get_height()) == (40.0, 50.0)
    left, top, side = square_box((20, 30, 60, 80))
    assert square.get_xy() == (left, top) and square.get_width() == side
    assert after.images[0].get_array().shape == (64, 64, 3)
    assert not before_none.patches and after_none.get_title() == "no face: skipped"


def test_the_loop_diagram_draws_each_step_once_and_closes_the_loop_with_arrows():
    ax = plotting.loop_diagram().axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [label for label, _, _ in plotting.LOOP_STEPS]
    assert any("ENTMOOT MIO" in t for t in texts) and any("fine-tune" in t for t in texts)
    arrows = [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows) == len(plotting.LOOP_STEPS)  # one per step, the last back to the data
