"""The HTML of the decks and of the solutions pages, offline.

Infrastructure for :mod:`bnlesson.slides`: nbconvert's exporters with
their CDN scripts left out (reveal.js and MathJax are the local copies of
:mod:`bnlesson.slides.assets`), the script that fits each slide to
1280 x 720, and the links that point into ``decks/``.
"""

from __future__ import annotations

import re

import jinja2
from nbconvert import HTMLExporter, SlidesExporter
from traitlets.config import Config

from bnlesson.slides.measure import HIDE_INPUT_TAG

MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
REVEAL_URL = "reveal.js"

# nbconvert's reveal page, minus its CDN scripts: reveal.js is loaded with a
# plain <script> (it then defines the global `Reveal`, no require.js needed).
# The right arrow (and a clicker's "next", which sends it or Page Down) walks
# every slide in order (navigationMode "linear": sub-slides are not a side
# branch a lecturer can miss). Each slide is fitted to 1280 x 720 when shown
# (`fit`): figures grow to fill the height left under the headline, and what
# is still too tall or too wide is shrunk (CSS zoom), never cut off. A link
# `deck.slides.html#heading` opens the slide that holds the heading.
TEMPLATE = r"""{%- extends 'reveal/index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block notebook_css %}
{{ super() }}
<style type="text/css">
.reveal .slides section { padding: 0; }
.reveal .jp-RenderedImage img { max-width: 100%; width: auto; height: auto; }
.reveal pre, .reveal .jp-OutputArea-output pre { white-space: pre; word-break: normal; }
.reveal .jp-RenderedHTMLCommon p { line-height: 1.3; }
.reveal .jp-RenderedHTMLCommon h1 { font-size: 2.0em; }
.reveal .jp-RenderedHTMLCommon h2 { font-size: 1.6em; }
.reveal .jp-RenderedHTMLCommon h3 { font-size: 1.3em; }
</style>
{% endblock notebook_css %}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
var SLIDE_W = {{ resources.reveal.width }}, SLIDE_H = {{ resources.reveal.height }};
var MARGIN = 16, FIGURE_MAX = 0.9 * SLIDE_H;
function tooTall(slide) { return slide.scrollHeight > SLIDE_H - MARGIN; }
function widest(part) {  // the natural width of a cell's widest table or text
  var width = part.scrollWidth;
  Array.prototype.forEach.call(part.querySelectorAll("table, pre"), function (el) {
    width = Math.max(width, el.scrollWidth + 2 * MARGIN);
  });
  return width;
}
function fit(slide) {
  if (!slide || slide.offsetHeight === 0) { return; }
  var images = Array.prototype.slice.call(
    slide.querySelectorAll(".jp-RenderedImage img"));
  var parts = Array.prototype.slice.call(slide.querySelectorAll(":scope > div"));
  images.forEach(function (img) { img.style.height = ""; });
  parts.forEach(function (el) { el.style.zoom = ""; });
  var wide = parts.map(function (el) { return Math.min(1, SLIDE_W / widest(el)); });
  parts.forEach(function (el, i) { el.style.zoom = wide[i]; });
  if (images.length) {  // share the free height among the figures
    images.forEach(function (img) { img.style.height = "0px"; });
    var free = SLIDE_H - MARGIN - slide.scrollHeight;
    var each = Math.min(FIGURE_MAX, Math.max(120, free / images.length));
    images.forEach(function (img) {
      if (!img.naturalWidth) {  // not decoded yet: fit again once it is
        img.style.height = "";
        img.addEventListener("load", function () { fit(slide); }, {once: true});
        return;
      }
      var width = img.parentNode.clientWidth || SLIDE_W;  // no wider than the slide
      var high = width * img.naturalHeight / img.naturalWidth;
      img.style.height = Math.min(each, high) + "px";
    });
  }
  for (var zoom = 0.95; tooTall(slide) && zoom >= 0.3; zoom -= 0.05) {
    parts.forEach(function (el, i) { el.style.zoom = Math.min(zoom, wide[i]); });
  }
  Reveal.layout();
}
function openAnchor() {  // deck.slides.html#heading-id: Jupyter's anchors
  var hash = window.location.hash.replace(/^#\/?/, "");
  var name = decodeURIComponent(hash).toLowerCase();
  if (!name || /^[0-9\/]+$/.test(name)) { return; }
  var found = Array.prototype.find.call(document.querySelectorAll(".slides [id]"),
    function (el) { return el.id.toLowerCase() === name; });
  var slide = found && found.closest("section");
  if (slide) { var at = Reveal.getIndices(slide); Reveal.slide(at.h, at.v); }
}
Reveal.initialize({
  controls: true, progress: true, hash: true, slideNumber: "c/t",
  navigationMode: "linear", center: true,
  transition: "{{ resources.reveal.transition }}", plugins: [RevealNotes],
  width: SLIDE_W, height: SLIDE_H
}).then(function () { openAnchor(); fit(Reveal.getCurrentSlide()); });
Reveal.on("slidechanged", function (event) {
  fit(event.currentSlide);
  if (window.MathJax && event.currentSlide.querySelector(".MathJax_CHTML")) {
    MathJax.Hub.Queue(["Rerender", MathJax.Hub, event.currentSlide],
                      [fit, event.currentSlide]);
  }
});
if (window.MathJax) {
  MathJax.Hub.Queue(function () { fit(Reveal.getCurrentSlide()); });
}
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
    config.TagRemovePreprocessor.remove_input_tags = {HIDE_INPUT_TAG}
    return SlidesExporter(
        config=config,
        extra_loaders=[jinja2.DictLoader({"bnlesson_slides.j2": TEMPLATE})],
        template_file="bnlesson_slides.j2",
    )


# A link to a lesson (NN_name.ipynb, with its #anchor) or to a solutions
# notebook, in markdown: in decks/ the lesson is its deck and the solutions
# are a page of their own (see :func:`solutions_page`).
_SOLUTIONS_LINK = re.compile(
    r"\]\(([\w./-]*?)(\d\d_[\w-]+_solutions)\.ipynb(#[^)\s]*)?\)"
)
_LESSON_LINK = re.compile(r"\]\(((?:\.\.?/)*)(\d\d_[\w-]+)\.ipynb(#[^)\s]*)?\)")


def relink(source: str) -> str:
    """Point markdown links to lessons and solutions at their pages in ``decks/``.

    ``NN_name.ipynb#anchor`` becomes ``NN_name.slides.html#anchor`` (the deck
    opens at the slide of that heading), ``solutions/NN_name_solutions.ipynb``
    becomes ``solutions/NN_name_solutions.html``.
    """
    source = _SOLUTIONS_LINK.sub(lambda m: f"]({m[1]}{m[2]}.html{m[3] or ''})", source)
    return _LESSON_LINK.sub(
        lambda m: f"]({m[1]}{m[2]}.slides.html{m[3] or ''})", source
    )


#: nbconvert's page of a whole notebook, offline: no require.js or mermaid
#: from a CDN, MathJax from the decks' own copy one folder up.
PAGE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
"""


def page_exporter() -> HTMLExporter:
    """Return nbconvert's page exporter for ``decks/solutions/`` (offline)."""
    config = Config()
    config.HTMLExporter.mathjax_url = "../" + MATHJAX_URL
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    return HTMLExporter(
        config=config,
        extra_loaders=[jinja2.DictLoader({"bnlesson_page.j2": PAGE_TEMPLATE})],
        template_file="bnlesson_page.j2",
    )
