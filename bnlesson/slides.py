"""Reveal.js slide decks of the lessons, from their committed outputs.

``python -m bnlesson.slides [--out DIR] [notebooks...]`` (or ``make
slides``) writes ``DIR/NN_name.slides.html`` for each lesson (by default
every ``notebooks/NN_*.ipynb`` into ``decks/``). Nothing is executed: a deck
shows the outputs the notebook was committed with. Which cells make the
deck is decided by :mod:`bnlesson.slide_rules` (a cell's own
``slideshow.slide_type`` metadata wins). The decks load nothing from the
network: reveal.js and MathJax are copied next to them by
:mod:`bnlesson.slide_assets`, and nbconvert's jQuery, require.js and mermaid
(all from CDNs, none needed here) are left out of the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import jinja2
import nbformat
from nbconvert import SlidesExporter
from traitlets.config import Config

from . import slide_assets, slide_rules

#: The lessons' folder, next to this package.
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
REVEAL_URL = "reveal.js"

# nbconvert's reveal page, minus its CDN scripts: reveal.js is loaded with a
# plain <script> (it then defines the global `Reveal`, no require.js needed).
TEMPLATE = """{%- extends 'reveal/index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true, progress: true, history: true, slideNumber: "c/t",
  transition: "{{ resources.reveal.transition }}", plugins: [RevealNotes],
  width: {{ resources.reveal.width }}, height: {{ resources.reveal.height }}
});
Reveal.on("slidechanged", function (event) {
  if (window.MathJax) { MathJax.Hub.Rerender(event.currentSlide); }
});
</script>
{% endblock footer_js %}
"""


def exporter() -> SlidesExporter:
    """Return nbconvert's slides exporter, set up for offline decks."""
    config = Config()
    config.SlidesExporter.reveal_url_prefix = REVEAL_URL
    config.SlidesExporter.reveal_theme = "white"
    config.SlidesExporter.reveal_width = "1280"
    config.SlidesExporter.reveal_height = "720"
    config.SlidesExporter.mathjax_url = MATHJAX_URL
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {slide_rules.HIDE_INPUT_TAG}
    return SlidesExporter(
        config=config,
        extra_loaders=[jinja2.DictLoader({"bnlesson_slides.j2": TEMPLATE})],
        template_file="bnlesson_slides.j2",
    )


def deck(notebook: Path) -> str:
    """Return the HTML of `notebook`'s deck (the file is only read)."""
    nb = nbformat.read(str(notebook), as_version=4)
    body, _ = exporter().from_notebook_node(
        slide_rules.mark(nb), resources={"metadata": {"name": notebook.stem}}
    )
    return body


def build(notebooks: Sequence[Path], out: Path) -> list[Path]:
    """Write a deck for each notebook into `out`, with reveal.js and MathJax.

    Each deck is written to a temporary file and renamed, so a failed build
    leaves no half-written deck.

    Returns
    -------
    list of Path
        The decks written, ``out/<notebook stem>.slides.html``.
    """
    out.mkdir(parents=True, exist_ok=True)
    slide_assets.install(out)
    written = []
    for notebook in notebooks:
        target = out / f"{notebook.stem}.slides.html"
        tmp = target.with_name(target.name + ".part")
        tmp.write_text(deck(notebook), encoding="utf-8")
        tmp.replace(target)
        written.append(target)
    return written


def lessons() -> list[Path]:
    """Return the committed lessons, ``notebooks/NN_*.ipynb``, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def main(argv: Sequence[str] | None = None) -> int:
    """Build the decks from the command line; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m bnlesson.slides")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: all")
    parser.add_argument("--out", type=Path, default=Path("decks"))
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    try:
        decks = build(args.notebooks or lessons(), args.out)
    except slide_assets.AssetError as err:
        print(f"No slides built. {err}", file=sys.stderr)
        return 1
    for path in decks:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
