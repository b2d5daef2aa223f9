"""The Jupyter server of the browser tests (tests/support/lab.py) cleans up."""

import psutil
import pytest
from lab import lab_server

pytestmark = pytest.mark.slow


def test_server_stops_with_its_kernels(tmp_path):
    with lab_server(tmp_path, {"BNLESSON_FAST": "1"}) as lab:
        kernel = lab.api("/api/kernels", method="POST", body={"name": "python3"})
        assert [k["id"] for k in lab.api("/api/kernels")] == [kernel["id"]]
        started = psutil.Process(lab.process.pid).children(recursive=True)
        assert any("ipykernel" in " ".join(p.cmdline()) for p in started)
        server = lab.process
    assert server.poll() is not None
    assert not [p for p in started if p.is_running()]
