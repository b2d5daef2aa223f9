"""Walk a reveal.js deck as a lecturer does: the right arrow, to the end.

Used by tests/slides/test_browser.py, and as a script for a before/after
table of the decks (slides, figures reached by the right arrow) with one
screenshot per deck of a slide with a figure and one of the speaker view::

    python tests/support/deckwalk.py DECKS_DIR [--shots DIR]

Headless Chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver)
with Selenium, at a 1280 x 720 window, one browser for every deck.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WINDOW = (1280, 720)
#: Pixels an element may stick out of the window (sub-pixel layout, borders).
TOLERANCE = 2
#: Right-arrow presses before a deck is taken to never end.
MAX_STEPS = 400


def missing() -> str | None:
    """Why the browser walk cannot run here, or None when it can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            return (
                f"{path} is missing: install Debian's {package} (make browser "
                f"does as root: apt-get install chromium chromium-driver)"
            )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def chrome():
    """Return a headless Chromium at 1280 x 720 that keeps the console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars",
        # Any request to the network fails: a deck must not need one.
        "--proxy-server=http://127.0.0.1:9", "--allow-file-access-from-files",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    # The window's outer size is 1280 x 720; make the page's viewport that.
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * WINDOW[0] - inner[0], 2 * WINDOW[1] - inner[1])
    return driver


# In the page, once MathJax has typeset the slide (and the deck has fitted
# it): the current slide's visible elements that stick out of the window,
# and the indices of the figures it shows (among the deck's images).
_STATE = r"""
const tol = arguments[0], done = arguments[arguments.length - 1];
function state() {
const slide = Reveal.getCurrentSlide();
const all = Array.from(document.querySelectorAll('.slides img'));
const W = window.innerWidth, H = window.innerHeight;
const outside = [];
const shown = [];
for (const el of slide.querySelectorAll('*')) {
  if (el.closest('aside.notes') || el.closest('.MJX_Assistive_MathML')) continue;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') continue;
  const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) continue;
  const out = r.left < -tol || r.top < -tol || r.right > W + tol || r.bottom > H + tol;
  if (out) {
    outside.push(el.tagName + '.' + el.className + ' ' +
      (el.textContent || '').trim().slice(0, 40) + ' at ' +
      [r.left, r.top, r.right, r.bottom].map(Math.round).join(','));
  } else if (el.tagName === 'IMG' && r.height > 0.15 * H) {
    shown.push(all.indexOf(el));
  }
}
const heads = Array.from(slide.querySelectorAll('h1, h2, h3'))
  .reduce((n, h) => n + h.innerText.trim().length, 0);
const titleOnly = !slide.querySelector('img') &&
  slide.innerText.replace(/\s+/g, '').length <= heads;
const at = Reveal.getIndices();
return {at: at.h + '/' + at.v + '/' + (at.f === undefined ? '' : at.f),
        outside: outside.slice(0, 5), shown: shown, titleOnly: titleOnly,
        last: Reveal.isLastSlide() && !Reveal.availableFragments().next};
}
const answer = () => setTimeout(() => done(state()), 10);
// MathJax 2 typesets a slide through its queue (reveal's math plugin queues
// the slide it shows): wait behind the queue while it holds work; an idle
// queue answers at once (its callback would come about 0.1 s later).
const queue = window.MathJax && MathJax.Hub && MathJax.Hub.queue;
const busy = queue && (queue.running || queue.pending || queue.queue.length);
if (busy) { MathJax.Hub.Queue(answer); } else { answer(); }
"""


@dataclass
class Walk:
    """What the right arrow showed of one deck."""

    slides: int = 0
    figures: int = 0
    seen: set = field(default_factory=set)
    outside: list = field(default_factory=list)  # (slide, elements) pairs
    title_only: list = field(default_factory=list)  # slides with a heading alone
    notes: int = 0
    failed: list = field(default_factory=list)  # the console's errors
    figure_slide: str | None = None
    math: int = 0  # formulas typeset by MathJax
    math_errors: int = 0  # MathJax's "Math Processing Error"s


def walk(driver, deck: Path, shots: Path | None = None) -> Walk:
    """Open `deck`, press the right arrow to its end and record what it showed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop the previous deck's messages
    driver.get(deck.resolve().as_uri())
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return !!(window.Reveal && Reveal.isReady())")
    )
    driver.execute_script("Reveal.configure({transition: 'none'})")
    result = Walk(
        slides=driver.execute_script("return Reveal.getTotalSlides()"),
        figures=driver.execute_script(
            "return document.querySelectorAll('.slides img').length"
        ),
        notes=driver.execute_script(
            "return Array.from(document.querySelectorAll('aside.notes'))"
            ".filter(a => a.textContent.trim()).length"
        ),
    )
    body = driver.find_element(By.TAG_NAME, "body")
    previous = None
    for _ in range(MAX_STEPS):
        state = driver.execute_async_script(_STATE, TOLERANCE)
        if state["at"] == previous:  # the arrow led nowhere: the end
            break
        previous = state["at"]
        if state["titleOnly"]:
            result.title_only.append(state["at"])
        if state["outside"]:
            result.outside.append((state["at"], state["outside"]))
        new = set(state["shown"]) - result.seen
        result.seen |= set(state["shown"])
        if new and result.figure_slide is None:
            result.figure_slide = state["at"]
            if shots is not None:
                driver.save_screenshot(str(shots / f"{deck.stem}.figure.png"))
        if state["last"]:
            break
        body.send_keys(Keys.ARROW_RIGHT)
    result.math, result.math_errors = driver.execute_script(
        "return [document.querySelectorAll('.slides .MathJax_CHTML').length,"
        " document.querySelectorAll('.slides .MathJax_Error, "
        '.slides [title="Math Processing Error"]\').length]'
    )
    result.failed = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
    ]
    return result


def notes_view(driver, deck: Path, shot: Path) -> None:
    """Screenshot `deck`'s first slide with notes, its notes shown beside it.

    reveal's ``showNotes`` puts the speaker notes on the slide itself: the
    speaker view that S opens is a second window, which headless Chromium
    opens but does not render for WebDriver.
    """
    driver.get(deck.resolve().as_uri())
    driver.execute_script(
        "Reveal.configure({showNotes: true});"
        "const a = document.querySelector('aside.notes');"
        "if (a) { const at = Reveal.getIndices(a.closest('section'));"
        "Reveal.slide(at.h, at.v); }"
    )
    driver.execute_async_script(
        "const done = arguments[0]; MathJax.Hub.Queue(() => setTimeout(done, 200));"
    )
    driver.save_screenshot(str(shot))


def speaker_window_opens(driver, deck: Path) -> bool:
    """Press S on `deck`: True if the speaker view's window opened."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(deck.resolve().as_uri())
    before = len(driver.window_handles)
    driver.find_element(By.TAG_NAME, "body").send_keys("s")
    try:
        WebDriverWait(driver, 5).until(lambda d: len(d.window_handles) > before)
    except Exception:  # selenium's TimeoutException: no window
        return False
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("decks", type=Path)
    parser.add_argument("--shots", type=Path)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    reason = missing()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    driver = chrome()
    try:
        print(
            "| deck | slides | figures reached by → | title-only | outside "
            "| notes | console errors |"
        )
        print("|---|---|---|---|---|---|---|")
        for deck in sorted(args.decks.glob("*.slides.html")):
            w = walk(driver, deck, args.shots)
            print(
                f"| {deck.name.split('.')[0]} | {w.slides} | {len(w.seen)} of "
                f"{w.figures} | {len(w.title_only)} | {len(w.outside)} | "
                f"{w.notes} | {len(w.failed)} |"
            )
            if args.shots:
                notes_view(driver, deck, args.shots / f"{deck.stem}.notes.png")
        last = sorted(args.decks.glob("*.slides.html"))[-1]
        opens = speaker_window_opens(driver, last)
        print(f"S opens the speaker view ({last.name}): {opens}")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
