"""What batch norm costs: ``python -m bnlesson.experiments.bench``.

Trains each LeNet variant on the first batches of the real Fashion-MNIST
training set, in one process and one run, and reports seconds per epoch
(scaled from the measured batches to the full 60,000 images), examples per
second and the ratio to the plain LeNet. The data pipeline alone (batching
and the copy to the device) is timed the same way. Every figure is the
median of several rounds after a warm-up pass that is not counted (it
builds MXNet's kernels and, when hybridized, the graph); each round times
every network once, so drift of the machine affects them all alike.

Ratios measured in one run are the point: absolute seconds depend on the
machine and on whatever else it is doing; ratios much less so.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from bnlesson import data, lesson03
from bnlesson.core import config
from bnlesson.core.config import device_or_default
from bnlesson.lesson08 import FastBatchNorm

BATCH_SIZE = 256
TRAIN_EXAMPLES = 60_000
#: label -> (norm passed to lesson03.lenet: a name or a layer class, hybridize?)
VARIANTS = {
    "plain": ("none", False),
    "plain, hybridized": ("none", True),
    "scratch BatchNorm": ("scratch", False),
    "scratch, fast": (FastBatchNorm, False),
    "Gluon nn.BatchNorm": ("gluon", False),
    "Gluon nn.BatchNorm, hybridized": ("gluon", True),
}
#: Short names for ``--networks``: key -> label of :data:`VARIANTS`.
KEYS = {
    "plain": "plain",
    "plain-hybridized": "plain, hybridized",
    "scratch": "scratch BatchNorm",
    "scratch-fast": "scratch, fast",
    "gluon": "Gluon nn.BatchNorm",
    "gluon-hybridized": "Gluon nn.BatchNorm, hybridized",
}


def parse_networks(text: str) -> list[str]:
    """The labels of :data:`VARIANTS` that `text` names, in order.

    `text` is a comma-separated list of short keys (:data:`KEYS`) or labels.
    Some labels hold a comma themselves ("scratch, fast"), so two pieces that
    together make a label are read as that label; no key is the second half
    of a label, so this is never ambiguous.
    """
    pieces = [piece.strip() for piece in text.split(",")]
    labels, i = [], 0
    while i < len(pieces):
        pair = ", ".join(pieces[i : i + 2])
        if i + 1 < len(pieces) and pair in VARIANTS:
            labels.append(pair)
            i += 2
        elif pieces[i] in KEYS or pieces[i] in VARIANTS:
            labels.append(KEYS.get(pieces[i], pieces[i]))
            i += 1
        else:
            raise ValueError(
                f"unknown network {pieces[i]!r} in --networks {text!r}; give "
                f"comma-separated keys ({', '.join(KEYS)}) or labels as the "
                f"table prints them ({'; '.join(VARIANTS)})"
            )
    return labels


def check_writable(path: Path, option: str) -> None:
    """Fail now, not after minutes of timing, if `path` cannot be written."""
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent):
            pass  # a file can be created there
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "permission denied", str(path))
    except OSError as err:
        raise ValueError(
            f"{option} {path}: cannot write there ({err}); give the path of a "
            f"file in a folder you can write"
        ) from None


def _subset(num_batches: int) -> data.Batches:
    X, y = data.load_arrays("train")
    n = num_batches * BATCH_SIZE
    return data.Batches(X[:n], y[:n], BATCH_SIZE, shuffle=True, seed=0)


def _pipeline_pass(batches: data.Batches, device):
    """A callable that iterates `batches` once, copying each batch to `device`."""
    from mxnet import npx

    def one_pass() -> float:
        start = time.perf_counter()
        for X, y in batches:
            X, y = X.as_in_ctx(device), y.as_in_ctx(device)
        npx.waitall()
        return time.perf_counter() - start

    return one_pass


def _training_pass(norm, hybridize: bool, batches, device):
    """A callable that trains a fresh LeNet for one pass over `batches`.

    Each call is lesson 03's :func:`~bnlesson.lesson03.train` for one epoch
    (fresh Xavier weights) and returns the seconds of its training pass; the
    test accuracy it computes afterwards is not timed, so one batch does.
    """
    from mxnet.gluon import nn

    config.set_seed(0)
    net = lesson03.lenet(norm)
    if hybridize and isinstance(net, nn.HybridBlock):
        net.hybridize(static_alloc=True, static_shape=True)
    probe = [next(iter(batches))]

    def one_pass() -> float:
        history = lesson03.train(net, batches, probe, 1, 0.9, device,
                                 verbose=False, plot=False)  # fmt: skip
        return history.seconds[0]

    return one_pass


def time_round_robin(passes: dict, repeats: int, verbose: bool = False) -> dict:
    """Median seconds of each callable in `passes`, timed in interleaved rounds.

    Every callable runs once untimed (warm-up: kernel selection, graph
    building), then each round times every callable once. Interleaving puts
    any drift of the machine (other load, clock changes) on all of them
    alike, so the ratios stay fair even when absolute times wander.
    """
    for fn in passes.values():
        fn()
    times: dict = {name: [] for name in passes}
    for round_ in range(1, repeats + 1):
        for name, fn in passes.items():
            times[name].append(fn())
        if verbose:
            print(f"  round {round_}/{repeats} done", flush=True)
    return {name: statistics.median(t) for name, t in times.items()}


def run(
    networks: Sequence[str] | None = None,
    num_batches: int = 40,
    repeats: int = 3,
    device=None,
    verbose: bool = True,
) -> dict:
    """Measure every network in `networks` (labels of :data:`VARIANTS` or keys).

    Returns a report: the settings, and one row (:func:`report_rows`) for
    the data pipeline and for each network, ``"plain"`` always included.
    """
    from mxnet import npx

    npx.set_np()
    networks = _checked_networks(networks)
    if num_batches < 1 or repeats < 1:
        raise ValueError("num_batches and repeats must be at least 1")
    device = device_or_default(device)
    batches = _subset(num_batches)
    passes = {"data pipeline": _pipeline_pass(batches, device)}
    for name in networks:
        passes[name] = _training_pass(*VARIANTS[name], batches, device)
    seconds = time_round_robin(passes, repeats, verbose)
    return {
        "device": str(device),
        "batch_size": BATCH_SIZE,
        "batches_measured": len(batches),
        "repeats": repeats,
        "rows": report_rows(seconds, batches.num_examples),
    }


def _checked_networks(networks: Sequence[str] | None) -> list[str]:
    """The labels `networks` names (all by default), ``"plain"`` first if absent."""
    networks = (
        list(VARIANTS) if networks is None else [KEYS.get(n, n) for n in networks]
    )
    unknown = [n for n in networks if n not in VARIANTS]
    if unknown:
        raise ValueError(
            f"unknown networks {unknown}; choose from {list(VARIANTS)} or the "
            f"keys {list(KEYS)}"
        )
    return networks if "plain" in networks else ["plain", *networks]


def report_rows(seconds: dict, num_examples: int) -> list[dict]:
    r"""One row per timed pass: its seconds scaled to a full epoch, and ratios.

    A pass over `num_examples` images that took :math:`t` seconds gives
    ``sec_per_epoch`` :math:`= t \cdot 60000 / n`, ``examples_per_sec``
    :math:`= n / t` and ``ratio_to_plain``, its ``sec_per_epoch`` over that
    of ``"plain"`` (which `seconds` must hold).
    """
    scale = TRAIN_EXAMPLES / num_examples
    return [
        {
            "network": name,
            "sec_per_epoch": t * scale,
            "examples_per_sec": num_examples / t,
            "ratio_to_plain": t / seconds["plain"],
        }
        for name, t in seconds.items()
    ]


def format_report(report: dict) -> str:
    """The report as a plain-text table, ratios to the plain LeNet last."""
    lines = [
        f"LeNet on Fashion-MNIST, batch {report['batch_size']}, device "
        f"{report['device']}: {report['batches_measured']} batches, median of "
        f"{report['repeats']} interleaved rounds, scaled to a 60,000-image epoch",
        f"{'':32s} {'sec/epoch':>10s} {'examples/s':>11s} {'x plain':>8s}",
    ]
    for r in report["rows"]:
        lines.append(
            f"{r['network']:32s} {r['sec_per_epoch']:10.2f} "
            f"{r['examples_per_sec']:11.0f} {r['ratio_to_plain']:8.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bnlesson.experiments.bench",
        description="Seconds per epoch of LeNet with and without batch norm.",
    )
    add = parser.add_argument
    keys = "; ".join(f"{key} = {label!r}" for key, label in KEYS.items())
    add(
        "--networks",
        help=f"comma-separated keys or labels (default: all): {keys}",
    )
    add("--batches", type=int, default=40, help="batches timed per pass")
    add("--repeats", type=int, default=3, help="timed passes per network")
    add("--json", type=Path, help="also write the figures to this file")
    add("--plot", type=Path, help="also draw a bar chart (PNG) here")
    args = parser.parse_args(argv)
    try:
        networks = parse_networks(args.networks) if args.networks else None
        for option, path in (("--json", args.json), ("--plot", args.plot)):
            if path is not None:
                check_writable(path, option)
        report = run(networks, args.batches, args.repeats)
    except (ValueError, data.DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.plot:
        from bnlesson import plots

        ax = plots.plot_bench(report)
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
    return 0


if __name__ == "__main__":
    sys.exit(main())
