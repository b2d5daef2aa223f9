"""The live training plot, ``bnlesson.training.live.LivePlot``: its lines, and
how it shows itself in a notebook (once, then updated as PNG) and outside one."""

import base64

import matplotlib.pyplot as plt
import pytest

from bnlesson.training import live


@pytest.fixture(autouse=True)
def _agg_backend():
    plt.switch_backend("agg")  # no window, no notebook: the tests run anywhere
    yield
    plt.close("all")


# --- LivePlot --------------------------------------------------------------


class FakeDisplay:
    def __init__(self):
        self.calls = []

    def __call__(self, bundle, raw, display_id):
        self.calls.append(("display", bundle, display_id))
        return self

    def update(self, bundle, raw):
        self.calls.append(("update", bundle, None))


def test_live_plot_collects_points_and_skips_missing():
    board = live.LivePlot(display=None)
    board.add(1, (2.0, 0.3, None))
    board.add(2, (1.0, 0.6, 0.7))
    lines = board.ax.get_lines()
    assert [line.get_label() for line in lines] == [
        "train loss",
        "train acc",
        "test acc",
    ]
    assert [list(line.get_ydata()) for line in lines] == [[2.0, 1.0], [0.3, 0.6], [0.7]]
    assert list(lines[2].get_xdata()) == [2]
    with pytest.raises(ValueError, match="expected 3 values"):
        board.add(3, (1.0,))


def test_live_plot_is_not_a_pyplot_figure():
    board = live.LivePlot()
    board.add(1, (1.0, 0.5, 0.5))
    assert plt.get_fignums() == [], "the inline backend would show it again"


def test_live_plot_shows_once_then_updates_as_png():
    fake = FakeDisplay()
    board = live.LivePlot(legend=["a"], display=fake)
    board.show()
    board.add(1, [0.5])
    board.add(2, [0.6])
    assert [(kind, display_id) for kind, _, display_id in fake.calls] == [
        ("display", True), ("update", None), ("update", None),
    ]  # fmt: skip
    for _, bundle, _ in fake.calls:
        assert set(bundle) == {"image/png", "text/plain"}, "no SVG"
        assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
        assert bundle["text/plain"] == "<Figure size 350x250 with 1 Axes>"


def test_live_plot_outside_ipython_shows_nothing(capsys):
    assert not live.in_ipython_kernel()
    board = live.LivePlot()
    board.add(1, (1.0, 0.5, 0.5))
    assert board._handle is None
    assert capsys.readouterr().out == ""
