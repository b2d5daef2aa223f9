"""Lesson 01's sliders move their figures in Lab and in the live slideshow.

A copy of the lesson, marked as slides by the package's slide rules, is
opened in Lab (fast sizes) and run once for both tests. In Lab, each of its
three sliders gets one press of the right arrow key on its handle, and the
figure under it must change (the image's data) while the slider's value
moves by one step. Then the lesson is shown as slides with RISE (what
Alt-R does) and each slider is moved on its slide: the slider must be a
widget there (not its text form), and the figure on the slide must change.
Screenshots go to ``$BNLESSON_SHOTS/widgets`` (Lab) and
``$BNLESSON_SHOTS/live`` (the slideshow) when that variable is set.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from lab import LabServer, chrome, lab_server, needs_browser, open_notebook, wait_for

from bnlesson.slides import rules

from nbutil import ROOT, notebook

pytestmark = [pytest.mark.slow, needs_browser]

NAME = "01.ipynb"
#: Each slider of lesson 01, in the order of the lesson: a name for its
#: screenshots, its label, its first value (what the committed figure
#: shows) and its value after one step to the right.
SLIDERS = [
    ("coupling", "move example 0 by", "15.00", "16.00"),
    ("momentum", "momentum", "0.9", "0.95"),
    ("batch_size", "batch size", "16", "32"),
]
#: A slider's handle: jQuery UI's in ipywidgets 7, noUiSlider's in 8.
HANDLE = ".ui-slider-handle, .noUi-handle"


@dataclass
class Lesson:
    """Lesson 01 run in Lab: the server, the browser, the marked notebook."""

    lab: LabServer
    driver: object
    nb: nbformat.NotebookNode


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """Lesson 01 as slides, open in Lab and run once, in fast mode."""
    root = tmp_path_factory.mktemp("widgets")
    nb = nbformat.read(notebook("01"), as_version=4)
    assert all(rules.slide_type(c) for c in nb.cells), "committed with Slide Types"
    nbformat.write(nb, root / NAME)
    env = {"BNLESSON_FAST": "1", "PYTHONPATH": str(ROOT)}
    expose = ["--LabApp.expose_app_in_browser=True"]  # window.jupyterapp
    with lab_server(root, env, args=expose) as lab, chrome() as driver:
        open_notebook(driver, lab, NAME)
        _run_all(driver)
        wait_for(lambda: len(_slider_cells(driver)) == 3, 120, "the sliders")
        yield Lesson(lab, driver, nb)


def _slider_cells(driver, where: str = ".jp-Notebook"):
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, f"{where} .jp-CodeCell")
    return [c for c in cells if c.find_elements(By.CSS_SELECTOR, ".widget-slider")]


def _figure(cell) -> str:
    """The data URL of the figure under a cell's slider ('' before it shows)."""
    from selenium.webdriver.common.by import By

    images = cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")
    return images[0].get_attribute("src") if images else ""


def _readout(cell) -> str:
    """The value a cell's slider shows."""
    from selenium.webdriver.common.by import By

    slider = cell.find_element(By.CSS_SELECTOR, ".widget-slider")
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    return readout.get_attribute("textContent").strip()


def _run_all(driver) -> None:
    """Run > Run All Cells, through Lab's menu bar."""
    from selenium.webdriver.common.by import By

    menus = driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
    next(m for m in menus if m.text.strip() == "Run").click()
    item = wait_for(
        lambda: driver.find_elements(
            By.CSS_SELECTOR, '.lm-Menu-item[data-command="runmenu:run-all"]'
        ),
        10,
        "the Run menu",
    )
    item[0].click()


def _move(cell, label: str, drag: int | None = None) -> str:
    """Move `cell`'s slider; the new figure, once redrawn.

    One press of the right arrow on the slider's handle, or, with `drag`,
    a drag of the handle by that many pixels to the right (in a slideshow
    the arrow keys turn the slides).
    """
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = wait_for(lambda: _figure(cell), 60, f"{label}: its figure")
    handle = cell.find_element(By.CSS_SELECTOR, HANDLE)
    if drag is None:
        handle.send_keys(Keys.ARROW_RIGHT)
    else:
        ActionChains(cell.parent).drag_and_drop_by_offset(handle, drag, 0).perform()
    return wait_for(
        lambda: _figure(cell) not in ("", before) and _figure(cell),
        30,
        f"{label}: the figure redrawn",
    )


def _shot(driver, cell, folder: str, name: str) -> None:
    """Save a screenshot of `cell`, without Lab's "news?" toast over it."""
    from selenium.webdriver.common.by import By

    shots = os.environ.get("BNLESSON_SHOTS")
    if shots:
        for button in driver.find_elements(By.CSS_SELECTOR, ".jp-toast-button"):
            if button.text.strip() == "No":
                button.click()
        (Path(shots) / folder).mkdir(parents=True, exist_ok=True)
        cell.screenshot(str(Path(shots) / folder / f"{name}.png"))


def test_each_slider_moves_its_figure(lesson):
    from selenium.webdriver.common.by import By

    driver = lesson.driver
    for cell, (name, label, first, after) in zip(_slider_cells(driver), SLIDERS):
        driver.execute_script("arguments[0].scrollIntoView();", cell)
        slider = cell.find_element(By.CSS_SELECTOR, ".widget-slider")
        assert label in slider.text and _readout(cell) == first, slider.text
        _shot(driver, cell, "widgets", f"{name}_before")
        _move(cell, label)
        assert _readout(cell) == after
        _shot(driver, cell, "widgets", f"{name}_after")


def _open_slideshow(driver, cell_index: int) -> None:
    """Show Lab's notebook as RISE slides from `cell_index`, over the window.

    What Alt-R does on the selected cell, then View > Simple Interface with
    the file browser closed, as a lecturer shows it; the driver is left in
    the slideshow's frame.
    """
    from selenium.webdriver.common.by import By

    driver.execute_script(
        "const nb = window.jupyterapp.shell.currentWidget.content;"
        f"nb.activeCellIndex = {cell_index};"
        "return window.jupyterapp.commands.execute('RISE:preview');"
    )
    time.sleep(1)
    driver.execute_script(
        "window.jupyterapp.shell.collapseLeft();"
        "return window.jupyterapp.commands.execute('application:toggle-mode');"
    )
    frame = wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, "iframe[src*='/rise/']"),
        30,
        "RISE's slideshow",
    )[0]
    driver.switch_to.frame(frame)


#: Reveal.js's address of the slide that holds an element: #/h/v.
GO_TO_SLIDE = """
const slide = arguments[0].closest('section');
const stack = slide.parentElement.closest('section');
const top = stack || slide;
const index = (e) => [...e.parentElement.children].filter(
    (s) => s.tagName === 'SECTION').indexOf(e);
location.hash = `#/${index(top)}/${stack ? index(slide) : 0}`;
"""


def _go_to_slide(driver, cell, label: str) -> None:
    driver.execute_script(GO_TO_SLIDE, cell)
    wait_for(
        lambda: driver.execute_script(
            "return !!arguments[0].closest('section.present')", cell
        ),
        10,
        f"{label}: its slide shown",
    )
    time.sleep(1)  # the end of reveal.js's slide transition


def test_each_slider_moves_its_figure_in_the_slideshow(lesson):
    driver = lesson.driver
    first = next(
        i
        for i, c in enumerate(lesson.nb.cells)
        if c.cell_type == "code" and "_slider(" in c.source
    )
    _open_slideshow(driver, first)
    try:
        cells = wait_for(
            lambda: (
                (found := _slider_cells(driver, ".reveal"))
                and len(found) == 3
                and found
            ),
            60,
            "the three sliders as widgets on the slides (with ipywidgets 8, RISE "
            "shows them as text: install the pinned ipywidgets 7)",
        )
        for cell, (name, label, _, _) in zip(cells, SLIDERS):
            _go_to_slide(driver, cell, label)
            value = _readout(cell)
            _move(cell, label, drag=60)
            assert _readout(cell) != value, f"{label}: the slider did not move"
            shots = os.environ.get("BNLESSON_SHOTS")
            if shots:
                driver.switch_to.default_content()
                (Path(shots) / "live").mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(f"{shots}/live/rise_{name}_slider_moved.png")
                driver.switch_to.frame(
                    driver.find_element("css selector", "iframe[src*='/rise/']")
                )
    finally:
        driver.switch_to.default_content()
