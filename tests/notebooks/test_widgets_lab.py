"""Lesson 01's sliders move their figures in JupyterLab, in a real browser.

A copy of the lesson is opened in Lab (fast sizes) and run; each of its
three sliders gets one press of the right arrow key on its handle, and the
figure under it must change (the image's data) while the slider's value
moves by one step. Screenshots before and after each move go to
``$BNLESSON_SHOTS/widgets`` when that variable is set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from lab import chrome, lab_server, needs_browser, open_notebook, wait_for

from nbutil import ROOT, notebook

pytestmark = [pytest.mark.slow, needs_browser]

#: Each slider of lesson 01, in the order of the lesson: a name for its
#: screenshots, its label, its first value (what the committed figure
#: shows) and its value after one step to the right.
SLIDERS = [
    ("coupling", "move example 0 by", "15.00", "16.00"),
    ("momentum", "momentum", "0.9", "0.95"),
    ("batch_size", "batch size", "16", "32"),
]


def _slider_cells(driver):
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell")
    return [c for c in cells if c.find_elements(By.CSS_SELECTOR, ".widget-slider")]


def _figure(cell) -> str:
    """The data URL of the figure under a cell's slider ('' before it shows)."""
    from selenium.webdriver.common.by import By

    images = cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")
    return images[0].get_attribute("src") if images else ""


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


def _shot(driver, cell, name: str) -> None:
    """Save a screenshot of `cell`, without Lab's "news?" toast over it."""
    from selenium.webdriver.common.by import By

    folder = os.environ.get("BNLESSON_SHOTS")
    if folder:
        for button in driver.find_elements(By.CSS_SELECTOR, ".jp-toast-button"):
            if button.text.strip() == "No":
                button.click()
        (Path(folder) / "widgets").mkdir(parents=True, exist_ok=True)
        cell.screenshot(str(Path(folder) / "widgets" / f"{name}.png"))


def test_each_slider_moves_its_figure(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    shutil.copy(notebook("01"), tmp_path / "01.ipynb")
    env = {"BNLESSON_FAST": "1", "PYTHONPATH": str(ROOT)}
    with lab_server(tmp_path, env) as lab, chrome() as driver:
        open_notebook(driver, lab, "01.ipynb")
        _run_all(driver)
        cells = wait_for(
            lambda: (found := _slider_cells(driver)) and len(found) == 3 and found,
            120,
            "the three sliders rendered",
        )
        for cell, (name, label, first, after) in zip(cells, SLIDERS):
            driver.execute_script("arguments[0].scrollIntoView();", cell)
            slider = cell.find_element(By.CSS_SELECTOR, ".widget-slider")
            assert label in slider.text and first in slider.text, slider.text
            before = wait_for(lambda c=cell: _figure(c), 60, f"{label}: its figure")
            _shot(driver, cell, f"{name}_before")
            cell.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(
                Keys.ARROW_RIGHT
            )
            wait_for(
                lambda c=cell, b=before: _figure(c) not in ("", b),
                30,
                f"{label}: the figure redrawn",
            )
            assert after in slider.text, slider.text
            _shot(driver, cell, f"{name}_after")
