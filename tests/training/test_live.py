"""The live training plot, ``bnlesson.training.live.LivePlot``: its lines, and
how it shows itself in a notebook (once, then updated as PNG) and outside one;
then the same seen through lesson 03's ``train``, which turns it on in a kernel."""

import base64
import io
import struct

import matplotlib.pyplot as plt
import pytest

from bnlesson.lesson03 import lenet, train
from bnlesson.training import bookkeeping, live


@pytest.fixture(autouse=True)
def _agg_backend():
    plt.switch_backend("agg")  # no window, no notebook: the tests run anywhere
    yield
    plt.close("all")


# --- LivePlot --------------------------------------------------------------


class FakeDisplay:
    """Stands for IPython's display: keeps each call, and what was shown and updated."""

    def __init__(self):
        self.calls, self.shown, self.updates, self.metadata = [], [], [], []

    def __call__(self, bundle, raw, metadata, display_id):
        assert raw and display_id is True
        self.calls.append(("display", bundle, display_id))
        self.shown.append(bundle)
        self.metadata.append(metadata)
        return self

    def update(self, bundle, raw, metadata):
        self.calls.append(("update", bundle, None))
        self.updates.append(bundle)
        self.metadata.append(metadata)


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


def pixels(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its IHDR chunk (after the signature)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_live_plot_is_a_retina_png_shown_at_its_1x_size():
    fake = FakeDisplay()
    board = live.LivePlot(xlim=(1, 10), display=fake)
    board.fig.suptitle("LeNet without batch norm")  # as lesson 03's plot
    board.show()
    for epoch in (1, 2, 3):
        board.add(epoch, (2.3 / epoch, 0.08 * epoch, 0.07 * epoch))
        one_x = io.BytesIO()  # what the plot sent before it was retina
        board.fig.savefig(one_x, format="png", bbox_inches="tight")
        png = base64.b64decode(fake.updates[-1]["image/png"])
        shown = fake.metadata[-1]["image/png"]
        width, height = pixels(png)
        # Twice the pixels, to the one pixel an odd size drops (IPython's way)
        assert (width // 2, height // 2) == (shown["width"], shown["height"])
        # Shown at the 1x size, to a pixel: text measures a bit differently at 2x.
        for a, b in zip(pixels(one_x.getvalue()), (shown["width"], shown["height"])):
            assert abs(a - b) <= 1, (pixels(one_x.getvalue()), shown)
    assert len(fake.metadata) == 4 and list(fake.metadata[0]) == ["image/png"]


def test_live_plot_outside_ipython_shows_nothing(capsys):
    assert not live.in_ipython_kernel()
    board = live.LivePlot()
    board.add(1, (1.0, 0.5, 0.5))
    assert board._handle is None
    assert capsys.readouterr().out == ""


# --- through lesson 03's train ---------------------------------------------


def test_live_plot_in_a_notebook_updates_one_output(iters, monkeypatch, capsys):
    fake = FakeDisplay()
    monkeypatch.setattr(live, "in_ipython_kernel", lambda: True)
    monkeypatch.setattr(live, "_ipython_display", fake)
    h = train(lenet("none"), *iters, 2, 0.9)  # plot=None: on in a kernel
    assert len(fake.shown) == 1 and len(fake.updates) == 2, "shown once, then updated"
    assert all(set(b) == {"image/png", "text/plain"} for b in fake.shown + fake.updates)
    assert len(capsys.readouterr().out.splitlines()) == 2, "the printed lines survive"
    assert h.test_acc


def test_no_live_plot_outside_a_notebook(iters, monkeypatch, capsys):
    fake = FakeDisplay()
    monkeypatch.setattr(live, "_ipython_display", fake)
    train(lenet("none"), *iters, 1, 0.9, plot=True)
    assert fake.shown == [] and fake.updates == []
    assert capsys.readouterr().out.startswith("epoch 1, ")


def test_lesson_03s_live_plot_names_its_network_and_its_y_axis(iters, monkeypatch):
    fake = FakeDisplay()
    monkeypatch.setattr(live, "in_ipython_kernel", lambda: True)
    monkeypatch.setattr(live, "_ipython_display", fake)
    board = bookkeeping.live_plot(3, None, "LeNet without batch norm")
    board.add(1, (2.3, 0.1, 0.1))  # a redraw clears the axes, not the title
    assert board.fig._suptitle.get_text() == "LeNet without batch norm"  # mpl 3.7
    assert board.ax.get_ylabel() == bookkeeping.LIVE_YLABEL
    assert board.ax.get_xlim() == (1, 3)
    assert len(fake.shown) == 1 and len(fake.updates) == 1
    assert bookkeeping.live_plot(3, False, "LeNet") is None
    train(lenet("none"), *iters, 1, 0.9, verbose=False, title="LeNet")
    assert len(fake.shown) == 2, "train draws its own, titled plot"
