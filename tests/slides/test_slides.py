"""The lessons' slide decks: built from the committed outputs, offline, readable."""

import base64
import hashlib
import io
import os
import re
import tarfile
import threading
from html.parser import HTMLParser
from pathlib import Path

import deckwalk
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from runmode import clear_run_env, set_mode

from bnlesson import slides
from bnlesson.core.sizes import SMALLER, sizes
from bnlesson.slides import assets as slide_assets
from bnlesson.slides import page as slide_page
from bnlesson.slides import paging as slide_paging

from nbutil import NOTEBOOKS

IDS = [p.name for p in NOTEBOOKS]
# A lecture of 45-90 minutes at about a minute a slide; a deck with more
# slides than its lesson has cells would be the notebook, not a lecture.
MAX_SLIDES = 60


def _hashes():
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in NOTEBOOKS}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build every deck once; return the folder and the notebooks' hashes.

    A lesson that gives no deck (e.g. its committed outputs are from a fast
    run) fails the tests of its deck with the builder's message (`_deck`).
    """
    out = tmp_path_factory.mktemp("decks")
    before = _hashes()
    try:
        slides.build(NOTEBOOKS, out)
        failed = []
    except slides.DecksFailed as err:
        failed = err.failed
    return out, before, _hashes(), failed


def _deck(built, path):
    """The deck of lesson `path`, or the test fails with why it was refused."""
    deck = built[0] / f"{path.stem}.slides.html"
    if not deck.is_file():
        pytest.fail(next((m for m in built[3] if str(path) in m), "no deck"))
    return deck


class _Page(HTMLParser):
    """What a page loads, its sections (slides) and the text of the first."""

    LOADS = {"script": "src", "img": "src", "link": "href", "iframe": "src"}

    def __init__(self):
        super().__init__()
        self.loads, self.depth, self.leaves, self.first = [], 0, 0, []
        self.sections, self._inner = 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.LOADS and attrs.get(self.LOADS[tag]):
            if tag != "link" or "stylesheet" in attrs.get("rel", ""):
                self.loads.append(attrs[self.LOADS[tag]])
        if tag == "section":
            self.depth += 1
            self.sections += 1
            self._inner = self.depth == 2

    def handle_endtag(self, tag):
        if tag == "section":
            self.leaves += self._inner and self.depth == 2
            self.depth -= 1

    def handle_data(self, data):
        if self.sections == 2 and self.depth == 2:  # the first slide
            self.first.append(data)


def _page(html):
    page = _Page()
    page.feed(html)
    return page


def _css_urls(css):
    found = re.findall(
        r"@import\s+(?:url\()?['\"]?([^'\")\s;]+)|url\(['\"]?([^'\")]+)", css
    )
    return [a or b for a, b in found]


def _local(url):
    return not re.match(r"[a-z]+:|//", url)


def _loaded(deck):
    """Every URL the deck loads: tags, the CSS in it and in local CSS files."""
    html = deck.read_text(encoding="utf-8")
    urls = list(_page(html).loads)
    urls += re.findall(r"import\s+\w+\s+from\s+['\"]([^'\"]+)", html)
    for style in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S):
        urls += _css_urls(style)
    todo = [u for u in urls if u.endswith(".css") and _local(u)]
    while todo:  # local style sheets, and the ones they import
        sheet = todo.pop()
        css = (deck.parent / sheet).read_text(encoding="utf-8")
        found = [
            str(Path(sheet).parent / u) if _local(u) else u for u in _css_urls(css)
        ]
        urls += found
        todo += [u for u in found if u.endswith(".css") and _local(u)]
    return urls


@pytest.mark.slow
def test_build_leaves_the_notebooks_unchanged(built):
    _, before, after, _ = built
    assert before == after


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_deck_is_a_lecture_of_the_lesson(built, path):
    html = _deck(built, path).read_text(encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    page = _page(html)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").replace("`", "")
    assert title in " ".join("".join(page.first).split()), "no title slide"
    headings = sum(
        c.cell_type == "markdown" and re.match(r"#{1,2} ", c.source) is not None
        for c in nb.cells
    )
    # Each title and `##` heading is a slide of its own; long sections add
    # sub-slides, but never more than the lesson has cells, nor MAX_SLIDES.
    assert headings <= page.leaves <= min(MAX_SLIDES, len(nb.cells))
    kept = [
        c
        for c in slide_paging.mark(nb).cells
        if c.metadata.slideshow.slide_type != "skip"
    ]
    shown = [png for c in kept if c.cell_type == "code" for png in c.outputs]
    shown = [o.data["image/png"] for o in shown if "image/png" in o.get("data", {})]
    assert html.count('src="data:image/png;base64,') == len(shown)
    assert all(png.strip() in html for png in shown), "a figure is not embedded"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_deck_loads_nothing_from_the_network(built, path):
    deck = _deck(built, path)
    urls = [u for u in _loaded(deck) if not u.startswith("data:")]
    assert urls, "the deck loads no scripts: reveal.js is missing"
    for url in urls:
        assert _local(url), f"loads {url[:80]} from the network"
        path = deck.parent / re.split(r"[?#]", url)[0]
        assert path.is_file(), f"{url[:80]} is missing"


# The command's answers to bad input, offline: a tiny stand-in for reveal.js
# (a local tarball with its real hash) instead of the npm downloads.


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """Make the decks' assets one local tarball; return the download cache."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/dist/reveal.js")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"//"))
    tarball = tmp_path / "reveal.js-0.tgz"
    tarball.write_bytes(buffer.getvalue())
    digest = base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()
    package = slide_assets.Package(
        tarball.as_uri(), "sha512-" + digest, "reveal.js", ("dist/reveal.js",)
    )
    monkeypatch.setattr(slide_assets, "PACKAGES", (package,))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _lesson(folder, name, *cells):
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.ipynb"
    title = new_markdown_cell(f"# {name}\n\nWhat it shows.")
    setup = new_code_cell("import bnlesson", execution_count=1)
    nbformat.write(new_notebook(cells=[title, setup, *cells]), path)
    return path


def _failed_cell(tags=()):
    error = new_output(
        "error", ename="ValueError", evalue="no such size",
        traceback=["\x1b[0;31mValueError\x1b[0m: no such size"],
    )  # fmt: skip
    return new_code_cell(
        "\n# train the network\ntrain(net, 3.5)", execution_count=4,
        outputs=[error], metadata={"tags": list(tags)},
    )  # fmt: skip


def _main(capsys, *args):
    try:
        status = slides.main([str(a) for a in args])
    except SystemExit as stop:  # argparse's error
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def test_a_stored_error_is_refused_naming_the_cell(tmp_path, assets, capsys):
    bad = _lesson(tmp_path / "nbs", "01_failed", _failed_cell())
    good = _lesson(
        tmp_path / "nbs", "02_good",
        new_code_cell("print('fine')", outputs=[new_output("stream", text="fine\n")]),
    )  # fmt: skip
    status, out, err = _main(capsys, "--out", tmp_path / "decks", bad, good)
    assert status == 1
    assert err == (
        "1 of 2 notebooks gave no deck (the others were written):\n"
        f"- {bad}: cell In [4] (cell 3 of the notebook), which starts "
        "'# train the network', holds a stored error (ValueError: no such "
        "size). The committed run failed there, and the deck would show the "
        "traceback: fix the cell, re-execute the notebook (make run) and "
        "commit it; if the error is the lesson's point, tag the cell "
        "raises-exception.\n"
    )
    assert out == f"wrote {tmp_path / 'decks' / '02_good.slides.html'}\n"
    assert sorted(p.name for p in (tmp_path / "decks").iterdir()) == [
        "02_good.slides.html", "reveal.js",
    ]  # fmt: skip


@pytest.mark.parametrize("tag", ["raises-exception", "nbval-raises-exception"])
def test_an_intended_error_is_shown(tmp_path, assets, capsys, tag):
    nb = _lesson(tmp_path / "nbs", "01_demo", _failed_cell([tag]))
    status, out, err = _main(capsys, "--out", tmp_path / "decks", nb)
    assert (status, err) == (0, "")
    html = (tmp_path / "decks" / "01_demo.slides.html").read_text(encoding="utf-8")
    assert "no such size" in html


def test_each_bad_notebook_is_named_and_the_others_are_built(tmp_path, assets, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    (nbs / "01_text.ipynb").write_text("not a notebook\n")
    (nbs / "02_empty.ipynb").write_text("{}")
    one_cell = nbs / "03_one_cell.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import bnlesson")]), one_cell)
    good = _lesson(nbs, "04_good")
    status, out, err = _main(
        capsys, "--out", tmp_path / "decks", *sorted(nbs.iterdir())
    )
    assert status == 1
    assert out == f"wrote {tmp_path / 'decks' / '04_good.slides.html'}\n"
    lines = err.splitlines()
    assert lines[0] == "3 of 4 notebooks gave no deck (the others were written):"
    assert lines[1] == (
        f"- {nbs / '01_text.ipynb'} is not a notebook: it is not JSON. Restore "
        f"it (git checkout -- {nbs / '01_text.ipynb'}) or save it again from "
        "Jupyter, or leave it out of the notebooks to build."
    )
    assert lines[2].startswith(f"- {nbs / '02_empty.ipynb'} is not a Jupyter notebook")
    assert "missing a key: cells" in lines[2] and "Restore it" in lines[2]
    assert lines[3] == (
        f"- {one_cell}: none of its cells (1) would be on a slide (the set-up "
        "cell, cells that only import, assert or define helpers, and cells "
        "whose Slide Type is Skip or Notes are left out). Start it with a "
        "markdown title cell ('# Title'), or set a cell's Slide Type to Slide "
        "(Jupyter Lab's property inspector)."
    )
    assert (tmp_path / "decks" / f"{good.stem}.slides.html").is_file()


def test_nothing_to_build_says_so(tmp_path, assets, capsys, monkeypatch):
    monkeypatch.setattr(slides, "NOTEBOOKS", tmp_path / "notebooks")
    status, out, err = _main(capsys, "--out", tmp_path / "decks")
    assert (status, out) == (2, "")
    assert err.startswith("usage: python -m bnlesson.slides")
    assert err.splitlines()[-1] == (
        f"python -m bnlesson.slides: error: nothing to build: "
        f"{tmp_path / 'notebooks'} has no lessons (NN_*.ipynb). Name the "
        "notebooks to build: python -m bnlesson.slides NOTEBOOK.ipynb ..."
    )
    assert not (tmp_path / "decks").exists()


@pytest.mark.parametrize("where", ["file", "inside a file", "read-only"])
def test_an_out_that_cannot_hold_decks_stops_before_any_work(
    tmp_path, assets, capsys, where
):
    nb = _lesson(tmp_path / "nbs", "01_good")
    (tmp_path / "file").write_text("not a folder")
    out = {"file": tmp_path / "file", "inside a file": tmp_path / "file" / "decks",
           "read-only": tmp_path / "ro"}[where]  # fmt: skip
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder")
        out.mkdir(mode=0o555)
    status, stdout, err = _main(capsys, "--out", out, nb)
    assert (status, stdout) == (2, "")
    message = err.splitlines()[-1]
    if where == "file":
        assert message == (
            f"python -m bnlesson.slides: error: --out {out} is a file, not a "
            "folder: name a folder for the decks (it is created if missing)."
        )
    else:
        assert message.startswith(f"python -m bnlesson.slides: error: --out {out} ")
        assert message.endswith(
            "cannot be written (Not a directory): make it writable, or name a "
            "folder you can write (it is created if missing)."
            if where == "inside a file"
            else "cannot be written (Permission denied): make it writable, or "
            "name a folder you can write (it is created if missing)."
        )
    assert not assets.exists(), "the assets were fetched before the check"


def test_two_builds_of_one_deck_do_not_collide(tmp_path, assets):
    nb = _lesson(tmp_path / "nbs", "01_good")
    out = tmp_path / "decks"
    errors = []

    def build():
        try:
            for _ in range(5):
                slides.build([nb], out)
        except Exception as err:  # collected for the assert below
            errors.append(err)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in out.iterdir()) == ["01_good.slides.html", "reveal.js"]


# A deck shows the full run, whose numbers the lesson's text quotes.


@pytest.mark.parametrize("mode", ["live", "fast"])
def test_the_builder_reads_the_run_mode_that_sizes_prints(monkeypatch, capsys, mode):
    clear_run_env(monkeypatch)
    set_mode(monkeypatch, mode)
    lesson = next(k for k, v in SMALLER.items() if v.get(mode))
    sizes(lesson, **{name: object() for name in SMALLER[lesson][mode]})
    printed = capsys.readouterr().out
    cell = new_code_cell("x = sizes(...)", outputs=[new_output("stream", text=printed)])
    assert slides.run_mode(new_notebook(cells=[cell])) == mode
    clear_run_env(monkeypatch)
    sizes(lesson, **{name: object() for name in SMALLER[lesson][mode]})
    assert capsys.readouterr().out == ""  # a full run prints no such line
    assert slides.run_mode(nbformat.read(NOTEBOOKS[0], as_version=4)) == "full"


def test_a_notebook_from_a_live_run_is_refused_and_the_others_built(
    tmp_path, assets, capsys
):
    live = new_output(
        "stream", text="Smaller sizes for a live run: num_epochs 1 (full: 10)\n"
    )
    bad = _lesson(tmp_path / "nbs", "01_live")
    nb = nbformat.read(bad, as_version=4)
    nb.cells[1].outputs = [live]
    nbformat.write(nb, bad)
    good = _lesson(tmp_path / "nbs", "02_good")
    status, out, err = _main(capsys, "--out", tmp_path / "decks", bad, good)
    assert status == 1
    assert out == f"wrote {tmp_path / 'decks' / '02_good.slides.html'}\n"
    assert err.splitlines()[1] == (
        f"- {bad}: its outputs are from a live run (its set-up cell prints "
        "'Smaller sizes for a live run'), not from the full run whose numbers "
        "its text quotes. Re-execute it in full mode (make run), or restore "
        f"its committed outputs (git checkout -- {bad}), then build again."
    )


def test_links_to_lessons_and_solutions_point_into_decks():
    text = (
        "[next](02_batchnorm_block.ipynb), [there](06_design_choices.ipynb#bias), "
        "[hints](solutions/01_batch_norm_function_solutions.ipynb), "
        "[back](../01_batch_norm_function.ipynb#exercises), "
        "[source](https://example.org/slides/3_7/batch-norm.ipynb)"
    )
    assert slide_page.relink(text) == (
        "[next](02_batchnorm_block.slides.html), "
        "[there](06_design_choices.slides.html#bias), "
        "[hints](solutions/01_batch_norm_function_solutions.html), "
        "[back](../01_batch_norm_function.slides.html#exercises), "
        "[source](https://example.org/slides/3_7/batch-norm.ipynb)"
    )


@pytest.mark.slow
def test_every_link_of_a_deck_or_page_resolves_in_decks(built):
    out = built[0]
    pages = sorted(out.glob("*.slides.html")) + sorted(out.glob("solutions/*.html"))
    assert len(pages) > len(NOTEBOOKS), "the solutions pages were not built"
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for href in re.findall(r'<a[^>]+href="([^"#]+)(?:#[^"]*)?"', html):
            if not re.match(r"[a-z]+:", href):
                assert (page.parent / href).is_file(), f"{page.name}: {href}"


# The decks as a lecturer presents them: headless Chromium at 1280 x 720,
# the right arrow to the end (tests/support/deckwalk.py), one browser.


@pytest.fixture(scope="module")
def browser():
    reason = deckwalk.missing()
    if reason:
        pytest.skip(reason)
    driver = deckwalk.chrome()
    yield driver
    driver.quit()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_right_arrow_presents_the_whole_deck(built, browser, path):
    deck = _deck(built, path)
    walk = deckwalk.walk(browser, deck)
    assert walk.failed == [], "the console reports errors or failed requests"
    assert walk.seen == set(range(walk.figures)), (
        f"the right arrow showed figures {sorted(walk.seen)} of {walk.figures}"
    )
    assert walk.outside == [], "content outside the 1280 x 720 slide"
    assert walk.title_only == [], "slides with a heading alone"
    assert walk.notes > 0, "no speaker notes"
    assert walk.math_errors == 0, "MathJax could not typeset a formula"
    if any("$" in c.source for c in nbformat.read(path, as_version=4).cells):
        assert walk.math > 0, "the lesson's formulas were not typeset"
    assert walk.slides <= MAX_SLIDES
