"""The lesson and solutions notebooks: committed executed, runnable twice, served."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import nbformat
import pytest
from nbclient import NotebookClient

from nbutil import NOTEBOOKS, ROOT, SOLUTIONS

IDS = [p.name for p in NOTEBOOKS]
#: Everything that is executed and committed: the lessons and their solutions.
EXECUTED = NOTEBOOKS + SOLUTIONS
EXECUTED_IDS = [p.name for p in EXECUTED]


def test_there_are_lessons():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_committed_executed_top_to_bottom(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "re-run the notebook: make run"
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", cell.source[:80]
            text = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}))
            assert not re.search(r"/root/|/home/|/work/|/tmp/", text), (
                f"output shows a machine path: {cell.source[:60]!r}"
            )


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_nbval_markers_are_exact(path):
    """nbval honours `# NBVAL_...` alone on its line only, never `# NBVAL_X: why`."""
    for source in (c.source for c in nbformat.read(path, as_version=4).cells):
        for line in source.splitlines():
            marker = re.match(r"\s*#+\s*(NBVAL_\w+)(.*)", line)
            if marker:
                assert not marker.group(2).strip(), (
                    f"put the reason on the next line: {line}"
                )


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_first_code_cell_prints_versions_and_mode(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in first.outputs)
    assert re.search(r"Python 3\.\d+\.\d+, MXNet 1\.9\.1, d2l 1\.0\.3", printed)
    assert "; full mode (" in printed, "commit the full-mode run (make run)"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_runs_twice_in_one_kernel(path):
    """A student re-runs everything: re-initialising nets and data must work."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def _mode_of_a_kernel(port: int, token: str, runtime_dir) -> str:
    """Start a kernel through the server's API and ask it for its run mode."""
    from jupyter_client import BlockingKernelClient

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/kernels", data=b'{"name": "python3"}',
        headers={"Authorization": f"token {token}"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as r:
        kernel_id = json.load(r)["id"]
    client = BlockingKernelClient(
        connection_file=str(runtime_dir / f"kernel-{kernel_id}.json")
    )
    client.load_connection_file()
    client.start_channels()
    printed = []
    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive(
            "from bnlesson.config import mode; print(mode())", timeout=60,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")),
        )  # fmt: skip
    finally:
        client.stop_channels()
    return "".join(printed).strip()


@pytest.mark.slow
def test_make_lab_serves_the_lessons(tmp_path):
    """Lab serves every lesson, opens on lesson 01 and shows them trusted;
    with MODE=live its kernels run in live mode."""
    port, token = _free_port(), "bnlesson-test"
    # A signature database of its own: the test neither reads nor changes the
    # user's record of trusted notebooks.
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_DATA_DIR=str(tmp_path),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))  # fmt: skip
    # make test sets BNLESSON_FAST=1; MODE on the command line wins over it.
    env["BNLESSON_FAST"] = "1"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PORT={port}", "MODE=live"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/contents?token={token}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    listing = json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read()
                    raise AssertionError(f"Lab did not answer:\n{output}") from None
                time.sleep(1)
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in NOTEBOOKS} <= names
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/lab?token={token}", timeout=10
        ) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
        # The server's root URL leads to lesson 01, not to an empty launcher.
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/?token={token}", timeout=10
        ) as r:
            assert r.url.split("?")[0].endswith(f"/lab/tree/{NOTEBOOKS[0].name}")
        for path in NOTEBOOKS:
            model = _get_json(
                f"http://127.0.0.1:{port}/api/contents/{path.name}?token={token}"
            )
            trusted = [c["metadata"].get("trusted") for c in model["content"]["cells"]
                       if c["cell_type"] == "code"]  # fmt: skip
            assert trusted and all(trusted), f"{path.name} opens untrusted"
        assert _mode_of_a_kernel(port, token, tmp_path / "runtime") == "live"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
