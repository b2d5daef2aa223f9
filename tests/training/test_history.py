"""A run's record (``bnlesson.training.history``): History's properties and
table, the Progress a net keeps while it trains, and the warning when a
half-trained net is read.

The History a real ``train`` fills, and a real interrupted ``train``, are
tested in tests/lessons/test_lesson03_train.py; here each piece on its own."""

import math
import warnings

import pandas as pd
import pytest
from mxnet.gluon import nn

from bnlesson.training.history import (
    History,
    Progress,
    UnfinishedTraining,
    forget_progress,
    progress_of,
    track_progress,
    warn_if_unfinished,
)

# --- History ---------------------------------------------------------------


def test_history_properties_and_frame():
    h = History(
        loss=[1.0, 0.5, 0.4], train_acc=[0.5, 0.7, 0.8], test_acc=[0.6, 0.9, 0.8],
        seconds=[9.0, 2.0, 3.0], lr=0.5, name="x",
    )  # fmt: skip
    assert (h.final_test_acc, h.best_test_acc, h.sec_per_epoch) == (0.8, 0.9, 3.0)
    frame = h.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["loss", "train_acc", "test_acc", "seconds"]
    assert list(frame.index) == [1, 2, 3] and frame.index.name == "epoch"
    assert frame.loc[2, "test_acc"] == 0.9
    empty = History()
    assert math.isnan(empty.final_test_acc) and math.isnan(empty.sec_per_epoch)
    assert len(empty.to_frame()) == 0


# --- Progress and the warning ----------------------------------------------


@pytest.mark.parametrize(
    "progress, says, finished",
    [(Progress(epoch=1, batches=1, in_epoch=True), "stopped after 1 batch of epoch 1",
      False),
     (Progress(epoch=2, batches=3, in_epoch=True, num_epochs=4),
      "stopped after 3 batches of epoch 2 of 4", False),
     (Progress(epoch=2, num_epochs=4), "stopped after epoch 2 of 4", False),
     (Progress(epoch=4, num_epochs=4), "stopped after epoch 4 of 4", True),
     (Progress(epoch=4, batches=0, in_epoch=True, num_epochs=4),
      "stopped after 0 batches of epoch 4 of 4", False)],
)  # fmt: skip
def test_progress_says_where_the_run_stopped(progress, says, finished):
    assert str(progress) == says
    assert progress.finished is finished


def test_a_net_keeps_one_progress_until_it_is_forgotten():
    net = nn.Dense(3)
    assert progress_of(net) is None
    progress = track_progress(net)
    assert progress == Progress() and track_progress(net) is progress
    progress.epoch = 2
    assert progress_of(net).epoch == 2
    forget_progress(net)
    assert progress_of(net) is None
    forget_progress(net)  # forgetting twice is harmless


def half_trained(epochs_done=1):
    """A net stopped in epoch `epochs_done` + 1 of 3, after 5 batches."""
    net = nn.Dense(3)
    progress = track_progress(net)
    progress.epoch, progress.batches, progress.in_epoch = epochs_done + 1, 5, True
    progress.num_epochs = 3
    progress.history = History(loss=[1.0] * epochs_done)
    return net


def line_of(text):
    """The number of the first line of this file that reads `text`."""
    with open(__file__) as source:
        return next(i for i, line in enumerate(source, 1) if line == text)


def read(net):
    """Stands for a function that reads a net, as plot_gamma_beta does."""
    warn_if_unfinished(net, "read")


def test_reading_a_half_trained_net_warns_at_the_readers_caller():
    net = half_trained()
    with pytest.warns(UnfinishedTraining) as caught:
        read(net)
    warning = caught[0]
    assert warning.filename == __file__
    # The line of this test that called read(), not the line inside read().
    assert warning.lineno == line_of("        read(net)\n")
    message = str(warning.message)
    assert message.startswith(
        "read: this net's last training run did not finish: it stopped after 5 "
        "batches of epoch 2 of 3 (interrupted, or stopped by an error)."
    )
    assert message.endswith(
        "for the trained values; the 1 epoch(s) it finished are in "
        "bnlesson.training.history.progress_of(net).history."
    )


def test_each_read_warns_again_even_from_the_same_line():
    # Python shows a warning once per line; a notebook cell run again must
    # warn again while the net is unfinished.
    net = half_trained(epochs_done=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            read(net)
    assert len(caught) == 3
    assert "finished are in" not in str(caught[0].message)  # none finished yet


def test_a_finished_fresh_or_never_trained_net_is_read_silently():
    finished = nn.Dense(3)
    progress = track_progress(finished)
    progress.epoch = progress.num_epochs = 2
    begun_none = nn.Dense(3)
    track_progress(begun_none)  # epoch 0: no epoch begun
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for net in (finished, begun_none, nn.Dense(3)):
            read(net)
