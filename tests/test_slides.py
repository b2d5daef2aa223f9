"""The lessons' slide decks: built from the committed outputs, offline, readable."""

import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from bnlesson import slide_rules, slides

from nbutil import NOTEBOOKS

IDS = [p.name for p in NOTEBOOKS]
CHROMIUM = shutil.which("chromium")
# A lecture of 45-90 minutes at about a minute a slide; a deck with more
# slides than its lesson has cells would be the notebook, not a lecture.
MAX_SLIDES = 60


def _hashes():
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in NOTEBOOKS}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build every deck once; return the folder and the notebooks' hashes."""
    out = tmp_path_factory.mktemp("decks")
    before = _hashes()
    slides.build(NOTEBOOKS, out)
    return out, before, _hashes()


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
    _, before, after = built
    assert before == after


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_deck_is_a_lecture_of_the_lesson(built, path):
    out, _, _ = built
    html = (out / f"{path.stem}.slides.html").read_text(encoding="utf-8")
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
        for c in slide_rules.mark(nb).cells
        if c.metadata.slideshow.slide_type != "skip"
    ]
    shown = [png for c in kept if c.cell_type == "code" for png in c.outputs]
    shown = [o.data["image/png"] for o in shown if "image/png" in o.get("data", {})]
    assert html.count('src="data:image/png;base64,') == len(shown)
    assert all(png.strip() in html for png in shown), "a figure is not embedded"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_deck_loads_nothing_from_the_network(built, path):
    deck = built[0] / f"{path.stem}.slides.html"
    urls = [u for u in _loaded(deck) if not u.startswith("data:")]
    assert urls, "the deck loads no scripts: reveal.js is missing"
    for url in urls:
        assert _local(url), f"loads {url[:80]} from the network"
        path = deck.parent / re.split(r"[?#]", url)[0]
        assert path.is_file(), f"{url[:80]} is missing"


def _chromium(url, profile, *args):
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,720",
        # Any request to the network fails: the deck must not need one.
        "--proxy-server=http://127.0.0.1:9", "--virtual-time-budget=10000",
    ]  # fmt: skip
    return subprocess.run(
        [CHROMIUM, *flags, *args, url], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (make test installs it as root "
    "with apt-get; or: apt-get install chromium)",
)
def test_first_slide_renders_in_chromium(built, tmp_path):
    deck = built[0] / f"{NOTEBOOKS[0].stem}.slides.html"
    shot = tmp_path / "first.png"
    _chromium(deck.as_uri(), tmp_path / "profile", f"--screenshot={shot}")
    assert shot.is_file(), "Chromium wrote no screenshot"
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 720)
    dark = sum(image.histogram()[:128]) / (1280 * 720)
    assert 0.005 < dark < 0.5, f"{dark:.1%} of the slide is dark: blank or broken"
    # The lesson's formulas: typeset by the local MathJax, not raw LaTeX.
    dom = _chromium(deck.as_uri(), tmp_path / "profile", "--dump-dom").stdout
    assert "MathJax_CHTML" in dom and "Math Processing Error" not in dom
