"""Fixtures of the data tests: an isolated search path and a local mirror."""

import gzip
import http.server
import threading
from functools import partial

import pytest
from datafiles import real_bytes

from bnlesson import data
from bnlesson.data import files as dataset
from bnlesson.data import mirrors


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $BNLESSON_DATA, an empty cache and no Debian folder."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxnet_home"))
    monkeypatch.setattr(dataset, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(mirrors, "MIRRORS", ("http://127.0.0.1:9/",))  # refused
    return tmp_path


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture
def labels_server(real_data_dir, server):
    """A local mirror serving the two (small) label files."""
    served, url = server
    for name in data.FILES:
        if "labels" in name:
            (served / f"{name}.gz").write_bytes(
                gzip.compress(real_bytes(real_data_dir, name))
            )
    return url
