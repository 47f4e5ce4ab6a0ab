"""The book's figures are drawn for its text column: sizes, type and legends off the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from seleak import figures  # noqa: E402


@pytest.fixture(autouse=True)
def _style():
    with matplotlib.rc_context():
        figures.use_book_style()
        yield
    plt.close("all")


def test_book_style_fills_the_column_with_ten_point_type() -> None:
    fig = plt.figure()
    width_px = fig.get_figwidth() * fig.dpi
    # the column of the book is about 690 px wide at 1280 px: a figure is shown at its natural size
    assert 600 <= width_px <= 700
    assert min(matplotlib.rcParams[k] for k in ("font.size", "legend.fontsize", "axes.labelsize")) >= 10


def test_image_grid_puts_nine_images_on_three_rows() -> None:
    images = [np.full((8, 8), 30 * i, dtype=np.uint8) for i in range(9)]
    fig = figures.image_grid(images, [f"k = {i}" for i in range(9)], ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 9 and fig.get_figwidth() == pytest.approx(figures.COLUMN_INCHES)
    assert [ax.get_title() for ax in shown][:3] == ["k = 0", "k = 1", "k = 2"]
    with pytest.raises(ValueError, match="one title per image"):
        figures.image_grid(images, ["only one"])


def test_legends_sit_outside_the_axes() -> None:
    fig, axes = plt.subplots(1, 2)
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="a line")
    legend = figures.legend_outside(axes[0])
    fig.canvas.draw()
    box, data = legend.get_window_extent(), axes[0].get_window_extent()
    assert box.x0 >= data.x1  # to the right of the plotting area
    shared = figures.figure_legend(fig)
    fig.canvas.draw()
    assert all(ax.get_legend() is None for ax in axes)
    assert [t.get_text() for t in shared.get_texts()] == ["a line"]  # one entry per label
    assert shared.get_window_extent().y1 <= min(ax.get_window_extent().y0 for ax in axes)  # below the panels
