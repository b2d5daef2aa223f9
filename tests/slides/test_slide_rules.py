"""The slide rules on a hand-made notebook, and the verified asset downloads."""

import base64
import errno
import hashlib
import io
import os
import tarfile
import threading

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bnlesson.slides import assets as slide_assets
from bnlesson.slides import rules as slide_rules

# A 1 x 1 PNG: a figure output.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def _notebook():
    log = "".join(f"epoch {i}, loss {1 / i:.2f}\n" for i in range(1, 11))
    cells = [
        new_markdown_cell("# Lesson 99 · A title\n\nWhat it is about."),
        new_code_cell("import bnlesson\nbnlesson.notebook.setup()"),
        new_markdown_cell("## The function"),
        new_code_cell("def f(x):\n    return 2 * x"),
        new_code_cell("def helper(x):\n    return x"),
        new_code_cell("import math"),
        new_code_cell("assert f(1) == 2\nif True:\n    assert f(2) == 4"),
        new_markdown_cell("### A detail"),
        new_code_cell(
            "train()",
            outputs=[new_output("stream", name="stdout", text=log)],
            metadata={"tags": ["nbval-ignore-output"]},
        ),
        new_code_cell(
            "report()",
            outputs=[new_output("stream", name="stdout", text=log)],
        ),
        new_code_cell(
            "fig = plot()",
            outputs=[new_output("display_data", data={"image/png": PNG})],
        ),
        new_code_cell("import os", metadata={"slideshow": {"slide_type": "slide"}}),
        new_markdown_cell("\n\n".join(f"Paragraph {i}." for i in range(40))),
    ]
    return new_notebook(cells=cells)


def test_rules_decide_each_cell():
    nb = _notebook()
    before = nbformat.writes(nb)
    marked = slide_rules.mark(nb)
    assert nbformat.writes(nb) == before, "the notebook passed in was changed"
    kinds = [c.metadata.slideshow.slide_type for c in marked.cells]
    # title, set-up, heading, its def, other def, import, asserts, ###, log,
    # untagged output, figure, metadata's own choice, then the long markdown
    # in 2 pieces of a slide each (neither fits under the import).
    assert kinds[:12] == [
        "slide", "skip", "slide", "-", "skip", "skip", "skip",
        "subslide", "-", "-", "fragment", "slide",
    ]  # fmt: skip
    assert kinds[12:] == ["subslide", "subslide"]
    text = "\n\n".join(c.source for c in marked.cells[12:])
    assert text == "\n\n".join(f"Paragraph {i}." for i in range(40))


def test_a_log_tagged_for_nbval_keeps_its_last_lines():
    tagged, untagged = slide_rules.mark(_notebook()).cells[8:10]
    assert tagged.source == "train()"
    assert tagged.outputs[0].text.splitlines() == [
        "[... 7 lines ...]",
        "epoch 8, loss 0.12",
        "epoch 9, loss 0.11",
        "epoch 10, loss 0.10",
    ]
    assert untagged.outputs[0].text == _notebook().cells[9].outputs[0].text


def test_a_heading_inside_markdown_starts_a_slide():
    nb = new_notebook(
        cells=[new_markdown_cell("## Summary\n\n* one\n\n## Exercises\n\n1. x")]
    )
    marked = slide_rules.mark(nb).cells
    assert [c.source for c in marked] == ["## Summary\n\n* one", "## Exercises\n\n1. x"]
    assert [c.metadata.slideshow.slide_type for c in marked] == ["slide", "slide"]


def test_math_and_code_blocks_are_never_split():
    math = "$$\n" + "\n\n".join(f"x_{i}" for i in range(60)) + "\n$$"
    assert list(slide_rules._chunks(math)) == [math]
    code = "```\n" + "\n\n".join(f"x = {i}" for i in range(60)) + "\n```"
    assert list(slide_rules._chunks("Intro.\n\n" + code)) == ["Intro.", code]


def _tarball(tmp_path, files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "pkg-1.0.tgz"
    path.write_bytes(buffer.getvalue())
    digest = base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()
    return path, "sha512-" + digest


def test_verified_tarball_gives_only_the_listed_files(tmp_path):
    files = {"dist/a.js": b"a", "dist/b.js": b"b", "docs/c.md": b"c"}
    path, integrity = _tarball(tmp_path, files)
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("dist/a.js",))
    tarball = slide_assets.fetch(package, tmp_path / "cache")
    slide_assets._extract(tarball, package, tmp_path / "pkg")
    got = [p.name for p in (tmp_path / "pkg").rglob("*") if p.is_file()]
    assert sorted(got) == sorted(["a.js", slide_assets.MANIFEST])  # + what it holds


def test_a_hash_mismatch_keeps_nothing(tmp_path):
    path, _ = _tarball(tmp_path, {"a.js": b"a"})
    wrong = "sha512-" + base64.b64encode(hashlib.sha512(b"x").digest()).decode()
    package = slide_assets.Package(path.as_uri(), wrong, "pkg", ("a.js",))
    with pytest.raises(slide_assets.AssetError, match="pinned hash"):
        slide_assets.fetch(package, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_failed_download_says_what_to_do(tmp_path):
    url = (tmp_path / "missing.tgz").as_uri()
    package = slide_assets.Package(url, "sha512-x", "pkg", ("a.js",))
    with pytest.raises(slide_assets.AssetError, match="connect to the network"):
        slide_assets.fetch(package, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_an_unwritable_cache_says_what_to_do(tmp_path):
    path, integrity = _tarball(tmp_path, {"a.js": b"a"})
    (tmp_path / "file").write_text("not a folder")
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("a.js",))
    with pytest.raises(slide_assets.AssetError, match="XDG_CACHE_HOME"):
        slide_assets.fetch(package, tmp_path / "file" / "cache")


def test_a_full_disk_is_not_blamed_on_the_network(tmp_path, monkeypatch):
    path, integrity = _tarball(tmp_path, {"a.js": b"a"})
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("a.js",))

    def full_disk(fd, mode):
        os.close(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", full_disk)
    with pytest.raises(slide_assets.AssetError) as err:
        slide_assets.fetch(package, tmp_path / "cache")
    assert "Cannot write the download cache" in str(err.value)
    assert "connect to the network" not in str(err.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_builds_installing_into_one_folder_at_once_all_succeed(tmp_path, monkeypatch):
    # Three parallel `make slides` into one folder died 1 time in 3 with
    # "Directory not empty" when swapping in reveal.js; here 4 builds x 5.
    files = {f"dist/{i // 20}/f{i}.js": bytes([i % 256]) * 3000 for i in range(300)}
    path, integrity = _tarball(tmp_path, files)
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("dist",))
    monkeypatch.setattr(slide_assets, "PACKAGES", (package,))
    slide_assets.fetch(package, tmp_path / "cache")

    def build(out, start, errors):
        start.wait()
        try:
            slide_assets.install(out, tmp_path / "cache")
        except Exception as err:  # collected for the assert below
            errors.append(err)

    for round_ in range(5):
        out = tmp_path / f"decks{round_}"
        out.mkdir()
        (out / "pkg").mkdir()  # an old, incomplete copy to be replaced
        (out / "pkg" / "stale.js").write_bytes(b"old")
        start, errors = threading.Barrier(4), []
        threads = [
            threading.Thread(target=build, args=(out, start, errors)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        got = {
            str(p.relative_to(out / "pkg")): p.read_bytes()
            for p in (out / "pkg").rglob("*.js")
        }
        assert got == files, "the installed copy is incomplete or mixed"
        assert sorted(p.name for p in out.iterdir()) == ["pkg"], "leftovers"


def test_a_hidden_check_cell_is_never_a_slide():
    # Not only assertions: a check cell may prepare what it asserts.
    check = new_code_cell(
        "gap = a - b\nprint(gap)\nassert gap > 0",
        metadata={"tags": ["check"], "jupyter": {"source_hidden": True}},
    )
    plain = new_code_cell("gap = a - b\nprint(gap)\nassert gap > 0")
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("import x"),
                             check, plain])  # fmt: skip
    kinds = [c.metadata.slideshow.slide_type for c in slide_rules.mark(nb).cells]
    assert kinds[2:] == ["skip", "-"]
