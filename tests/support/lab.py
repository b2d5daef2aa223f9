"""A Jupyter server and a headless Chromium for the browser tests of Lab.

`lab_server` starts the venv's own ``jupyter server`` (JupyterLab's
extension with it) on a free port with a token, rooted at a given folder,
and stops it and every kernel it started, whatever the test did. `chrome`
makes a Selenium 4 driver for Debian's Chromium at the slide size
(1280x720) that keeps the browser console. `open_notebook` opens a notebook
in Lab and waits until its kernel is idle.

Tests that use them are slow (a server and a kernel take seconds):
mark them ``@pytest.mark.slow`` and ``@needs_browser``::

    @pytest.mark.slow
    @needs_browser
    def test_x(tmp_path):
        with lab_server(tmp_path, {"BNLESSON_FAST": "1"}) as lab, chrome() as driver:
            open_notebook(driver, lab, "03_x.ipynb")
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

#: Debian's Chromium and its driver (``apt-get install chromium
#: chromium-driver``); the browser tests skip without them.
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: The size of a slide, and of the lecturer's browser window.
WINDOW = (1280, 720)

needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"a browser test needs Debian's Chromium ({CHROMIUM}) and its driver "
    f"({CHROMEDRIVER}): apt-get install chromium chromium-driver",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running Jupyter server: where it listens and its token."""

    url: str  # e.g. http://127.0.0.1:8123
    token: str
    root: Path
    process: subprocess.Popen

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        """Call the server's REST API (``/api/...``); the decoded JSON, or None."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def lab_url(self, path: str = "") -> str:
        """The URL of `path` (relative to the root) in Lab, logged in."""
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of `notebook`'s kernel, None without a session."""
        for session in self.api("/api/sessions"):
            if session["path"] == notebook and session.get("kernel"):
                return session["kernel"]["execution_state"]
        return None


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
        except urllib.error.HTTPError:  # 403 without the token: it is up
            return
        except OSError:
            time.sleep(0.2)
            continue
        return
    tail = log.read_text()[-3000:]
    raise TimeoutError(f"jupyter server not up in {timeout} s:\n{tail}")


def _stop(server: LabServer) -> None:
    """Shut the kernels down, then the server; kill whatever is left.

    Kernels run in their own sessions (jupyter_client starts them so), so
    killing the server's process group would miss them: collect every
    descendant first and kill the survivors at the end.
    """
    try:
        children = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    with contextlib.suppress(OSError, ValueError):
        for kernel in server.api("/api/kernels"):
            server.api(f"/api/kernels/{kernel['id']}", method="DELETE")
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)


@contextlib.contextmanager
def lab_server(
    root: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Iterator[LabServer]:
    """Run ``jupyter server`` (with Lab) on `root` until the block ends.

    Parameters
    ----------
    root
        The server's root folder: the notebooks it serves, kernels' cwd.
    env
        Variables added to this process's environment for the server and its
        kernels, e.g. ``{"BNLESSON_FAST": "1"}``.
    timeout
        Seconds to wait for the server to answer.

    Lab's settings, workspaces and runtime files go to a temporary folder, so
    a test neither reads nor changes the user's.
    """
    jupyter = Path(sys.executable).with_name("jupyter")
    port, token = free_port(), secrets.token_hex(16)
    state = Path(tempfile.mkdtemp(prefix="bnlesson-lab-"))
    full_env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        **(env or {}),
    }
    command = [
        str(jupyter), "server", "--no-browser",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        # no news or update checks from a test
        "--LabApp.news_url=", "--LabApp.check_for_updates_class="
        "jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = state / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, Path(root), process)
    try:
        _wait_until_up(server.url, process, log, timeout)
        yield server
    finally:
        _stop(server)
        shutil.rmtree(state, ignore_errors=True)


@contextlib.contextmanager
def chrome(window: tuple[int, int] = WINDOW):
    """A headless Chromium driven by Selenium, closed when the block ends.

    The browser console is kept: ``driver.get_log("browser")`` lists what
    the page logged (errors, failed requests).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="bnlesson-chrome-")
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
        "--disable-gpu", f"--window-size={window[0]},{window[1]}",
        f"--user-data-dir={profile}", "--hide-scrollbars",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2):
    """Call `predicate` until it returns something true; that value.

    Raises TimeoutError naming `what` after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"{what}: not within {timeout} s")


def wait_idle(server: LabServer, notebook: str, timeout: float = 60) -> None:
    """Wait until `notebook`'s kernel exists and is idle (the server's view)."""
    wait_for(
        lambda: server.kernel_state(notebook) == "idle",
        timeout,
        f"the kernel of {notebook} idle",
    )


def open_notebook(driver, server: LabServer, notebook: str, timeout: float = 60):
    """Open `notebook` (a path under the server's root) in Lab; wait for its kernel.

    Returns once Lab shows the notebook and its kernel is idle.
    """
    from selenium.webdriver.common.by import By

    driver.get(server.lab_url(notebook))
    wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"),
        timeout,
        f"Lab showing {notebook}",
    )
    wait_idle(server, notebook, timeout)
