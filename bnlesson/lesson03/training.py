r"""Lesson 03's training loop, written out as the lesson shows it.

:func:`train` is the lecture's ``d2l.train_ch5`` (``train_ch6`` in d2l
1.0): minibatch SGD on the softmax cross-entropy, one line per epoch, the
test accuracy measured in prediction mode after each epoch. The package's
other runs share :mod:`bnlesson.training.loop`; this one stays written out
because the lesson shows it.
"""

from __future__ import annotations

from mxnet import autograd, gluon

from bnlesson.core.config import default_device
from bnlesson.training.bookkeeping import TrainingLog, check_training
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.sgd import initialize


# Shown in lesson 03, "The training loop"; tests/lessons/test_lesson03_train.py
# proves that both give the same history.
def train(net, train_iter, test_iter, num_epochs, lr, device=None, *,
          verbose=True, plot=None, name=None, title=None):  # fmt: skip
    r"""Train `net` by minibatch SGD, one line per epoch (the lecture's `train_ch5`).

    The lecture's ``d2l.train_ch5`` (``train_ch6`` in d2l 1.0), initializing
    inside: `net` gets fresh Xavier weights and moving statistics on `device`
    (default :func:`~bnlesson.core.config.default_device`); each step on a
    batch of size :math:`b` updates every parameter by

    .. math:: w \leftarrow w - \frac{\eta}{b} \sum_{i=1}^{b} \nabla_w \ell_i

    (:math:`\eta` = `lr`, :math:`\ell_i` the softmax cross-entropy). After
    each epoch the test accuracy is measured in prediction mode and, if
    `verbose`, one line printed (``time``: the epoch's training only), e.g.
    ``epoch 1, loss 0.6847, train acc 0.752, test acc 0.792, time 3.7 sec``.
    `train_iter` and `test_iter` (a list, a ``DataLoader``, a
    :class:`bnlesson.data.Batches`) are iterated once per epoch. `plot`: a
    live plot titled `title` (None: in a notebook); `name` labels the
    returned History. The bookkeeping is
    :class:`bnlesson.training.bookkeeping.TrainingLog`.

    Raises
    ------
    ValueError
        For a bad `num_epochs` or `lr`, an empty or one-shot `train_iter` or
        `test_iter` (before training), or an epoch without batches.
    bnlesson.training.divergence.TrainingDiverged
        If an epoch's loss, or a weight after its last update, is NaN or
        infinite; it says whether the inputs, the loss or the parameters went
        non-finite first, in which batch, and carries the epochs before.

    A run stopped before its end (an error, Ctrl-C) leaves `net` half-trained
    and saying so: :func:`batchnorm_layers` warns where the run stopped, and
    :func:`bnlesson.training.history.progress_of` gives the finished epochs.
    """
    check_training(train_iter, test_iter, num_epochs, lr)  # before any epoch
    device = default_device() if device is None else device
    initialize(net, device)  # fresh Xavier weights and moving statistics
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    log = TrainingLog(net, num_epochs, lr, device, name=name, plot=plot, title=title)
    for epoch in range(1, num_epochs + 1):
        log.start_epoch()  # starts the clock
        loss_sum, correct, n = 0, 0, 0
        for X, y in train_iter:
            X, y = X.as_in_ctx(device), y.as_in_ctx(device)
            with autograd.record():
                y_hat = net(X)
                l = loss(y_hat, y)
            l.backward()
            trainer.step(X.shape[0])
            # Arrays on the device: adding them does not wait for the device.
            loss_sum += l.sum()
            correct += (y_hat.argmax(axis=1).astype(y.dtype) == y).sum()
            n += X.shape[0]
            log.step(X, l)  # notes what went NaN first, should anything
        # Reads the sums once; stops if the loss or a weight is not finite.
        train_loss, train_acc, seconds = log.end_epoch(loss_sum, correct, n)
        test_acc = evaluate_accuracy(net, test_iter, device)
        log.add(train_loss, train_acc, test_acc, seconds)  # record and plot
        if verbose:
            print(f"epoch {epoch}, loss {train_loss:.4f}, "
                  f"train acc {train_acc:.3f}, test acc {test_acc:.3f}, "
                  f"time {seconds:.1f} sec", flush=True)  # fmt: skip
    return log.history
