"""The lesson and solutions notebooks: committed executed, runnable twice, served."""

import contextlib
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

from nbutil import NOTEBOOKS, ROOT, SOLUTIONS, code_cells, notebook, run_cell

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


#: The cell tags nbval 0.11 acts on (nbval.plugin.metadata_tags): a cell's
#: tags are these only, so that a misspelt one cannot be silently ignored.
NBVAL_TAGS = {
    "nbval-ignore-output", "nbval-check-output", "nbval-skip",
    "nbval-raises-exception", "raises-exception",
}  # fmt: skip


def test_nbval_tags_are_the_ones_nbval_reads():
    from nbval.plugin import metadata_tags

    assert NBVAL_TAGS <= set(metadata_tags)


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_no_test_markers_in_the_source(path):
    """The student reads no `# NBVAL_...` comments: nbval's tags do their work."""
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        assert "NBVAL" not in cell.source, (
            f"cell {index + 1} shows a test marker: {cell.source[:80]!r}. Remove "
            "it and tag the cell instead (e.g. nbval-ignore-output), see README"
        )


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_nbval_tags_are_known_and_ignored_output_says_why(path):
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        tags = cell.metadata.get("tags", [])
        where = f"cell {index + 1} ({cell.source[:60]!r})"
        assert set(tags) <= NBVAL_TAGS | {CHECK_TAG}, f"{where}: unknown tags {tags}"
        if "nbval-ignore-output" in tags:
            why = cell.metadata.get("bnlesson", {}).get("why-output-ignored", "")
            assert why.strip(), (
                f"{where} is tagged nbval-ignore-output without a reason: set "
                'its metadata "bnlesson": {"why-output-ignored": "..."}'
            )


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_first_code_cell_prints_versions_and_the_run_is_full_size(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in first.outputs)
    assert re.search(r"Python 3\.\d+\.\d+, MXNet 1\.9\.1, d2l 1\.0\.3", printed)
    for cell in nb.cells:
        text = "".join(o.get("text", "") for o in cell.get("outputs", []))
        assert "Smaller sizes" not in text, "commit the full-size run (make run)"


#: The tag of a cell that checks a lesson's claims, out of the reading flow:
#: JupyterLab shows it collapsed (``jupyter.source_hidden``), slides skip it.
CHECK_TAG = "check"
#: What a student must not read in a lesson or solution: the run mode and
#: its size knobs, test machinery, talk of the machine or of the project.
#: Checked in markdown and in the code of every cell not tagged CHECK_TAG.
MACHINERY = [
    r"\b(?:mode|fast_mode|live_mode|pick|epochs)\(", r"\blive=", r"live_per_class",
    r"\bNBVAL", r"\bnbval\b", r"\b(?:fast|live|full)[ -]mode\b", r"\bCI\b",
    # "the test accuracy" is batch norm's business; "a test checks" is not.
    r"\b(?:a|the|these|our|unit) tests?\b(?!\s+(?:accurac|set|image|data|loss"
    r"|error|batch|split|example|label|iter|curve|time|mode))",
    r"\btests? check", r"\bchecked on the\b",
    r"\bassertions?\b", r"\bthreshold", r"this machine", r"as committed",
    r"shared with other jobs", r"installed here", r"make (?:bench|test|run)\b",
    r"all cells:", r"lesson (?:took|ran in)", r"time\.time\(\)",
]  # fmt: skip
#: The one place a lesson may say how to run it smaller in class: the cell
#: that calls ``sizes(...)``, in a comment linking the README.
SIZES_CALL = re.compile(r"\bsizes\(")


def shown_cells(path):
    """(index, cell) of every cell a student reads: all but the checks."""
    cells = nbformat.read(path, as_version=4).cells
    for index, cell in enumerate(cells):
        if CHECK_TAG not in cell.metadata.get("tags", []):
            yield index, cell


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_a_student_reads_no_test_machinery(path):
    found = []
    for index, cell in shown_cells(path):
        text = cell.source
        if cell.cell_type == "code" and SIZES_CALL.search(text):
            text = re.sub(r"#.*", "", text)  # its comment may link the README
        for pattern in MACHINERY:
            for hit in re.finditer(pattern, text, flags=re.IGNORECASE):
                line = text[: hit.start()].count("\n")
                found.append(f"c{index}: {text.splitlines()[line].strip()[:90]!r}")
    assert not found, (
        "a student reads test machinery (move checks into a hidden cell tagged "
        "'check', sizes into the one sizes(...) line at the top, and keep prose "
        "to batch norm and its sources):\n" + "\n".join(found)
    )


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_check_cells_are_hidden_and_only_check(path):
    cells = nbformat.read(path, as_version=4).cells
    for index, cell in enumerate(cells):
        tagged = CHECK_TAG in cell.metadata.get("tags", [])
        hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
        assert tagged == hidden, (
            f"cell {index}: a check cell is tagged {CHECK_TAG!r} and has "
            'metadata "jupyter": {"source_hidden": true}, both or neither'
        )
        if tagged:
            assert cell.cell_type == "code" and "assert" in cell.source, index
            assert not cell.outputs, f"cell {index}: a check prints nothing"


@pytest.mark.parametrize("path", EXECUTED, ids=EXECUTED_IDS)
def test_sizes_are_written_once_at_the_top(path):
    calls = [i for i, c in enumerate(nbformat.read(path, as_version=4).cells)
             if c.cell_type == "code" and SIZES_CALL.search(c.source)]  # fmt: skip
    assert len(calls) <= 1, f"sizes(...) is called in cells {calls}: once, at the top"
    first_code = next(i for i, c in enumerate(nbformat.read(path, as_version=4).cells)
                      if c.cell_type == "code")  # fmt: skip
    assert all(i <= first_code + 2 for i in calls), calls


# A student re-runs everything in one kernel: re-initialising nets and data
# must work. Not a test here (it ran each notebook twice more, once more than
# needed): nbval's run of each notebook ends with the item "runs twice in one
# kernel", a second pass in nbval's kernel (conftest.py, tested in
# test_pytest_hooks.py).


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def _mode_of_a_kernel(port: int, token: str, runtime_dir) -> str:
    """Start a kernel through the server's API and ask it for its run mode
    and device, as ``"mode device"``."""
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
            "from bnlesson.core.config import default_device, mode\n"
            "print(mode(), default_device())", timeout=60,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")),
        )  # fmt: skip
    finally:
        client.stop_channels()
    return "".join(printed).strip()


def _autosave_goes_to_the_copy(port, token, copies):
    """Save lesson 03 with a live output as Lab's autosave does (PUT
    /api/contents); the committed lesson and git status stay as they were."""
    lesson = NOTEBOOKS[2]
    status = ["git", "status", "--porcelain", "--", "notebooks"]
    before = lesson.read_bytes(), subprocess.check_output(status, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/api/contents/{lesson.name}?token={token}"
    model = _get_json(url)
    model["content"]["cells"][0]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "a live run\n"}
    ]
    body = json.dumps({"type": "notebook", "format": "json",
                       "content": model["content"]}).encode()  # fmt: skip
    request = urllib.request.Request(url, data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200
    assert "a live run" in (copies / lesson.name).read_text()
    assert (lesson.read_bytes(), subprocess.check_output(status, cwd=ROOT)) == before


@pytest.mark.slow
def test_make_lab_serves_the_lessons(tmp_path):
    """Lab serves every lesson, opens on lesson 01 and shows them trusted;
    with MODE=live its kernels run in live mode, on copies: what Lab saves
    (autosave's PUT) goes to the copy, never to the committed lesson; with
    DEVICE= they train on that device (both together, as CI runs)."""
    port, token = _free_port(), "bnlesson-test"
    # A signature database of its own: the test neither reads nor changes the
    # user's record of trusted notebooks.
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_DATA_DIR=str(tmp_path),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))  # fmt: skip
    # make test sets BNLESSON_FAST=1; MODE on the command line wins over it.
    env["BNLESSON_FAST"] = "1"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PORT={port}", "MODE=live",
         "DEVICE=cpu:1", f"LIVE_DIR={tmp_path / 'live'}"],
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
                    # make may still run: stop it, or reading its output hangs
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
                    output = proc.communicate(timeout=30)[0]
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
        assert _mode_of_a_kernel(port, token, tmp_path / "runtime") == "live cpu(1)"
        _autosave_goes_to_the_copy(port, token, tmp_path / "live")
    finally:
        with contextlib.suppress(ProcessLookupError):  # make already ended
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- lessons 01 and 02 run out of order ---------------------------------------
# A student re-runs the cell that draws a random batch, or a cell of an earlier
# section after a later one. A cell that compares a result with what the text
# expects must still print a true comparison (or refuse with an error), never
# an "expected" value computed from a different batch than the result.


def _numbers(line: str) -> list[float]:
    """The numbers printed after the label of a line like ``label: [[1. 2.]]``."""
    return [float(v) for v in line.split(":", 1)[1].strip(" []").split()]


def _draws_only(source: str) -> bool:
    """A figure cell: it changes no name the comparisons read (and pyplot's
    figures need a kernel here, see FACTS: backend2gui)."""
    return "plt.show()" in source


@pytest.fixture(scope="module")
def lesson01_in_order():
    """Lesson 01 run top to bottom: its code cells, what each printed, and the
    namespace (a copy) as it was before each cell (and, last, at the end)."""
    import numpy as onp

    cells = nbformat.read(notebook("01"), as_version=4).cells
    code = [c for c in cells if c.cell_type == "code"]
    saved = onp.get_printoptions()  # setup() changes them for the lesson
    namespace: dict = {}
    printed, before = [], []
    for cell in code:
        before.append(dict(namespace))
        drawn = _draws_only(cell.source)
        printed.append("" if drawn else run_cell(cell.source, namespace))
    yield code, printed, before + [namespace]
    onp.set_printoptions(**saved)


#: Lesson 01's cells that compare a result with an expected value, found by
#: what they print (so that cells added to the lesson do not move them).
COMPARISONS = {
    "moving averages": 'print("expected:   "',
    "prediction mode": "max |Y - X / sqrt(1 + eps)|",
}
LESSON01_CELLS = len(code_cells(notebook("01")))


def _index_of(code: list, comparison: str) -> int:
    found = [i for i, c in enumerate(code) if COMPARISONS[comparison] in c.source]
    assert len(found) == 1, (comparison, found)
    return found[0]


def _comparison_holds(comparison: str, printed: str) -> None:
    lines = printed.splitlines()
    if comparison == "moving averages":  # moving mean / expected, var / expected
        assert _numbers(lines[0]) == _numbers(lines[1]), printed
        assert _numbers(lines[2]) == _numbers(lines[3]), printed
    else:  # prediction mode with the starting statistics: Y = X / sqrt(1 + eps)
        assert float(lines[0].rsplit(":", 1)[1]) < 1e-6, printed
        assert lines[1].endswith("True"), printed


@pytest.mark.parametrize("comparison", COMPARISONS)
def test_lesson01_comparisons_print_the_committed_outputs(
    lesson01_in_order, comparison
):
    code, printed, _ = lesson01_in_order
    i = _index_of(code, comparison)
    assert printed[i] == "".join(o.get("text", "") for o in code[i].outputs)
    _comparison_holds(comparison, printed[i])


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("at_the_end", [False, True], ids=["in-order", "at-end"])
@pytest.mark.parametrize("other", range(2, LESSON01_CELLS + 1), ids="In [{}]".format)
def test_lesson01_comparisons_hold_after_any_other_cell(
    lesson01_in_order, comparison, at_the_end, other
):
    """Cells run in order up to the comparison (or all of them), then one
    other cell, then the comparison: e.g. the random batch drawn again before
    the moving averages are compared with their expected values, or the
    moving averages of the convergence loop left in memory before the
    prediction-mode cell."""
    code, _, before = lesson01_in_order
    i, j = _index_of(code, comparison), other - 1
    if j == i or _draws_only(code[j].source):
        pytest.skip("the cell itself, or a figure")
    namespace = dict(before[-1] if at_the_end else before[i])
    try:
        run_cell(code[j].source, namespace)
    except Exception:  # noqa: BLE001 - it refused, or needs an earlier cell:
        pass  # either way it said so; what matters is the comparison after it
    try:
        printed = run_cell(code[i].source, namespace)
    except ValueError as err:
        # Only the moving averages, of a batch that is not 2-D with 3
        # features: refused by batch_norm's shape check, naming its shape.
        assert comparison == "moving averages", err
        assert namespace["X"].shape[1:] != (3,), err
        assert str(tuple(namespace["X"].shape)) in str(err)
        return
    _comparison_holds(comparison, printed)


def test_lesson02_training_cell_run_again_starts_from_zero_and_one():
    """The first training-mode cell (In [4]) run a second time: the moving
    mean is again 10% of the way from 0 to the batch means, as the text
    says, not 19%."""
    import numpy as onp

    code = code_cells(notebook("02"))
    i = next(i for i, source in enumerate(code) if "moving_mean now:" in source)
    saved = onp.get_printoptions()
    namespace: dict = {}
    try:
        for source in code[: i + 2] + [code[i]]:  # the next cell, then it again
            run_cell(source, namespace)
    finally:
        onp.set_printoptions(**saved)
    X, layer = namespace["X"], namespace["layer"]
    expected = 0.1 * X.mean(axis=(0, 2, 3))
    assert onp.allclose(
        layer.moving_mean.reshape(-1).asnumpy(), expected.asnumpy(), atol=1e-6
    )
