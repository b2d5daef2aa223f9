"""One data-parallel worker: the batch-norm LeNet trained through a key-value store.

Run by :func:`bnlesson.lesson10.train_on_workers` as
``python -m bnlesson.lesson10.worker --out result.json ...`` under the
``DMLC_*`` variables of :mod:`bnlesson.lesson10.launcher`: it joins MXNet's
``dist_sync`` store, trains on its shard of Fashion-MNIST (every
``num_workers``-th training image, from its rank on) and writes what the
lesson compares to a JSON file: its rank, test accuracy, the first
batch-norm layer's running statistics and the first convolution's weights.
:func:`train_shard` without a store is the one-process run at the same
global batch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as onp
from mxnet import autograd, gluon

from bnlesson.core.config import device_or_default, set_seed
from bnlesson.data import Batches, balanced_subset, load_arrays
from bnlesson.lesson03 import batchnorm_layers, lenet
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.sgd import initialize


def shard(labels, rank: int, num_workers: int, batch_size: int,
          per_class: int | None) -> onp.ndarray:  # fmt: skip
    """The training indices of worker `rank`: every `num_workers`-th image.

    Of all images, or of the first `per_class` of each class; cut so that
    every worker has the same number of whole batches of `batch_size`
    (in ``dist_sync`` a worker with one step more would wait forever for
    the others' gradients).
    """
    order = onp.arange(len(labels)) if per_class is None else balanced_subset(
        labels, per_class)  # fmt: skip
    each = len(order) // num_workers // batch_size * batch_size
    if each == 0:
        raise ValueError(
            f"{len(order)} training images are too few for {num_workers} workers "
            f"with batches of {batch_size}: each would get no whole batch"
        )
    return order[rank::num_workers][:each]


def train_shard(kv, num_epochs: int, global_batch: int, lr: float, seed: int = 0,
                per_class: tuple | None = None, device=None,
                bad_data: bool = False) -> dict:  # fmt: skip
    r"""Train the batch-norm LeNet on this worker's shard; return what it learned.

    With `kv` a ``dist_sync`` store, each of its ``kv.num_workers`` workers
    takes batches of ``global_batch // num_workers`` images; the servers sum
    the workers' gradients and ``trainer.step(global_batch)`` divides by the
    global batch, so every update is the one-process update
    :math:`w \leftarrow w - \frac{\eta}{B}\sum_{i=1}^{B}\nabla_w\ell_i` over
    all :math:`B` images of the step. The batch-norm layers see only the
    worker's own images. With `kv` None: one process, batches of
    `global_batch`. `bad_data` drops the channel axis of the images, as a
    broken input pipeline would.
    """
    device = device_or_default(device)
    rank, num_workers = (0, 1) if kv is None else (kv.rank, kv.num_workers)
    batch_size = global_batch // num_workers
    if kv is not None:  # the first line of its log says who it is
        print(f"worker rank {rank} of {num_workers}: batches of {batch_size}",
              flush=True)  # fmt: skip
    set_seed(seed)  # the same initial weights on every worker
    X, y = load_arrays("train")
    X_test, y_test = load_arrays("test")
    if per_class is not None:
        keep = balanced_subset(y_test, per_class[1])
        X_test, y_test = X_test[keep], y_test[keep]
    mine = shard(y, rank, num_workers, batch_size, None if per_class is None
                 else per_class[0])  # fmt: skip
    images = X[mine][:, 0] if bad_data else X[mine]
    batches = Batches(images, y[mine], batch_size, shuffle=True, seed=seed + rank)
    net = lenet("gluon")
    initialize(net, device)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr},
                            kvstore="device" if kv is None else kv)  # fmt: skip
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    start, steps = time.perf_counter(), 0
    for _ in range(num_epochs):
        for X_b, y_b in batches:
            X_b, y_b = X_b.as_in_ctx(device), y_b.as_in_ctx(device)
            with autograd.record():
                l = loss(net(X_b), y_b)
            l.backward()
            trainer.step(global_batch)  # the servers sum the workers' gradients
            steps += 1
    seconds = time.perf_counter() - start
    test_iter = Batches(X_test, y_test, 1000)
    bn = batchnorm_layers(net)[0]
    return {
        "rank": rank,
        "num_workers": num_workers,
        "batch_size": batch_size,
        "steps": steps,
        "seconds": seconds,
        "test_acc": evaluate_accuracy(net, test_iter, device),
        "running_mean": bn.running_mean.data(device).asnumpy().tolist(),
        "running_var": bn.running_var.data(device).asnumpy().tolist(),
        "conv_weight": net[0].weight.data(device).asnumpy().ravel().tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    """Join the ``dist_sync`` store, train, write the result (run by the launcher)."""
    import mxnet as mx
    from mxnet import npx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--num-epochs", type=int, default=1)
    parser.add_argument("--global-batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, nargs=2, default=None)
    parser.add_argument("--bad-data", action="store_true")
    args = parser.parse_args(argv)
    npx.set_np()
    kv = mx.kv.create("dist_sync")
    result = train_shard(
        kv, args.num_epochs, args.global_batch, args.lr, args.seed,
        None if args.per_class is None else tuple(args.per_class),
        mx.cpu(), args.bad_data,
    )  # fmt: skip
    args.out.write_text(json.dumps(result))
    print(f"worker rank {result['rank']}: done, test acc {result['test_acc']:.3f}",
          flush=True)  # fmt: skip
    return 0


def run(argv: list[str] | None = None) -> None:
    """:func:`main`, ending the process at once when it raises.

    A Python exception would otherwise leave the process hanging at exit:
    MXNet's store waits there for the other workers, which wait for this one.
    """
    try:
        code = main(argv)
    except BaseException:  # noqa: BLE001 - any error ends the worker, logged
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    raise SystemExit(code)


if __name__ == "__main__":
    run()
