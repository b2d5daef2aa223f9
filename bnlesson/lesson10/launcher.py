"""Start MXNet's parameter-server roles as processes on one machine, and stop them.

MXNet's ``dist_sync`` key-value store runs three roles (ps-lite): one
*scheduler* that introduces the others, *servers* that hold the weights and
sum the gradients, and *workers* that train. Each process learns its role
and the cluster's shape from the environment variables MXNet documents:

=======================  ====================================================
``DMLC_ROLE``            ``scheduler``, ``server`` or ``worker``
``DMLC_PS_ROOT_URI``     the scheduler's address (here ``127.0.0.1``)
``DMLC_PS_ROOT_PORT``    the scheduler's port
``DMLC_NUM_SERVER``      how many servers
``DMLC_NUM_WORKER``      how many workers
=======================  ====================================================

A scheduler or server needs nothing but ``import mxnet``: the import sees
the role and serves until the workers are done. This module only starts
those processes, one OpenMP thread each, all in one process group, each
writing to its own log; watches them; and stops every one of them when a
worker fails, on a timeout, or when the caller is interrupted (Ctrl-C in a
notebook raises ``KeyboardInterrupt`` in :func:`run_cluster`).

A failed worker leaves the others waiting for it (dist_sync waits for every
worker; by default nothing gives up), so the launcher does not wait for them:
the first worker that exits with an error stops the whole cluster, and
:class:`WorkerFailed` names it and shows the end of its log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Where every role listens: this machine only.
HOST = "127.0.0.1"
#: Lines of a failed worker's log that its error shows.
TAIL_LINES = 15
#: What a scheduler or a server runs: MXNet's import sees the role and serves.
SERVE = [sys.executable, "-c", "import mxnet"]


class WorkerFailed(RuntimeError):
    """A worker exited with an error (or was killed); the cluster was stopped."""

    def __init__(self, name: str, returncode: int, tail: str):
        self.name, self.returncode, self.tail = name, returncode, tail
        how = (f"was killed by signal {-returncode}" if returncode < 0
               else f"exited with code {returncode}")  # fmt: skip
        super().__init__(
            f"{name} {how}; every process of the cluster was stopped. The end "
            f"of its log:\n{tail}"
        )


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on `port` of `host` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As a server does: a closed port's lingering connections do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = HOST) -> int:
    """`preferred` if nothing listens on it, else a port the system has free.

    A scheduler whose port is taken fails at once in ps-lite (it does not
    retry), so the port is checked before the cluster starts.
    """
    if preferred is not None and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def role_env(role: str, port: int, num_workers: int, num_servers: int = 1) -> dict:
    """The environment of one role: ours plus MXNet's variables, one thread."""
    env = dict(os.environ)
    env.update(
        DMLC_ROLE=role,
        DMLC_PS_ROOT_URI=HOST,
        DMLC_PS_ROOT_PORT=str(port),
        DMLC_NUM_SERVER=str(num_servers),
        DMLC_NUM_WORKER=str(num_workers),
        # One thread per process: four processes share the machine's cores.
        OMP_NUM_THREADS="1",
        MXNET_CPU_WORKER_NTHREADS="1",
    )
    return env


@dataclass
class Cluster:
    """The processes of one run: name -> process, name -> log file."""

    port: int
    logdir: Path
    processes: dict = field(default_factory=dict)
    logs: dict = field(default_factory=dict)

    @property
    def workers(self) -> list[str]:
        return [name for name in self.processes if name.startswith("worker")]

    def tail(self, name: str, lines: int = TAIL_LINES) -> str:
        """The last `lines` lines of process `name`'s log."""
        text = self.logs[name].read_text(errors="replace").rstrip("\n")
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> list[str]:
        return [n for n, p in self.processes.items() if p.poll() is None]


def start(worker_commands: list[list[str]], num_servers: int = 1,
          port: int | None = None, logdir: str | os.PathLike | None = None,
          serve: list[str] = SERVE) -> Cluster:  # fmt: skip
    """Start a scheduler, `num_servers` servers and one worker per command.

    Every process joins the scheduler's process group, so that one signal
    reaches them all (:func:`stop`); output goes to ``<logdir>/<name>.log``.
    `port` is the scheduler's, if free (:func:`free_port`).
    """
    if not worker_commands:
        raise ValueError("a cluster needs at least one worker command")
    logdir = Path(logdir or tempfile.mkdtemp(prefix="dist_sync_"))
    logdir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(free_port(port), logdir)
    roles = [("scheduler", "scheduler", serve)]
    roles += [(f"server {i}", "server", serve) for i in range(num_servers)]
    roles += [(f"worker {i}", "worker", cmd) for i, cmd in enumerate(worker_commands)]
    group = 0  # the first process starts a new group; the others join it
    try:
        for name, role, command in roles:
            log = logdir / f"{name.replace(' ', '_')}.log"
            env = role_env(role, cluster.port, len(worker_commands), num_servers)
            with open(log, "wb") as out:
                process = subprocess.Popen(
                    command, env=env, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, process_group=group,
                )  # fmt: skip
            group = group or process.pid
            cluster.processes[name], cluster.logs[name] = process, log
    except BaseException:
        stop(cluster)
        raise
    return cluster


def stop(cluster: Cluster, grace: float = 2.0) -> None:
    """Stop every process of `cluster`: SIGTERM to the group, then SIGKILL.

    Waits for each, so none is left as a zombie, and returns when all are gone.
    """
    processes = list(cluster.processes.values())
    if not processes:
        return
    group = processes[0].pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
        for p in processes:  # one that left the group is still ours
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(0.05)
    for p in processes:
        p.wait()


def wait(
    cluster: Cluster, timeout: float, poll: float = 0.1, grace: float = 3.0
) -> None:
    """Return when every worker has exited with code 0.

    Raises
    ------
    WorkerFailed
        As soon as one worker exits with another code (an exception, bad
        data, a kill), or the scheduler or a server dies before the workers
        are done. A worker that fails while exiting can make a server abort
        first, so a dead scheduler or server is blamed only if no worker
        fails within `grace` seconds.
    TimeoutError
        If the workers are not done within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    others = [n for n in cluster.processes if n not in cluster.workers]
    blamed, blamed_at = None, 0.0
    while True:
        for name in cluster.workers:
            code = cluster.processes[name].poll()
            if code not in (None, 0):
                raise WorkerFailed(name, code, cluster.tail(name))
        if all(cluster.processes[w].poll() == 0 for w in cluster.workers):
            return
        if blamed is None:
            for name in others:
                if cluster.processes[name].poll() not in (None, 0):
                    blamed, blamed_at = name, time.monotonic()
                    break
        elif time.monotonic() - blamed_at > grace:
            code = cluster.processes[blamed].poll()
            raise WorkerFailed(blamed, code, cluster.tail(blamed))
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the workers were not done after {timeout:.0f} s; still running: "
                f"{', '.join(cluster.alive())}. Logs: {cluster.logdir}"
            )
        time.sleep(poll)


def run_cluster(worker_commands: list[list[str]], timeout: float = 600.0,
                **kwargs) -> Cluster:  # fmt: skip
    """Start a cluster (:func:`start`), wait for its workers, stop it, always.

    Whatever happens (the workers finish, one fails, the timeout passes, or
    the caller is interrupted), no process of the cluster is left running.
    Returns the stopped :class:`Cluster`, whose logs stay readable.
    """
    cluster = start(worker_commands, **kwargs)
    try:
        wait(cluster, timeout)
    finally:
        stop(cluster)
    return cluster
