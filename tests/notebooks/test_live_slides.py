"""A lesson as live slides: JupyterLab with jupyterlab-rise, in Chromium.

A lecturer opens a lesson in Lab, runs it, presses Alt-R (RISE's preview
of the notebook as slides), and re-runs a training cell on its slide with
Shift-Enter; the new output must appear on the slide. The lesson is a copy
of lesson 03 marked as slides by the package's slide rules, run in fast
mode.
"""

import os
import shutil
import time

import nbformat
import pytest
from lab import chrome, lab_server, needs_browser, open_notebook, wait_for

from bnlesson.slides import rules

from nbutil import notebook

pytestmark = [pytest.mark.slow, needs_browser]

#: A folder for a screenshot of the executed slide, if set.
SHOTS_ENV = "BNLESSON_SHOTS"
NAME = "03.ipynb"
TRAINING = "bn = train("


def _run_cells(driver, server, indices):
    """Run the cells at `indices` of Lab's current notebook, in order."""
    for i in indices:
        driver.execute_script(
            "const nb = window.jupyterapp.shell.currentWidget.content;"
            f"nb.activeCellIndex = {i};"
            "return window.jupyterapp.commands.execute('notebook:run-cell');"
        )
    time.sleep(0.5)  # the last execute request reaches the kernel
    wait_for(lambda: server.kernel_state(NAME) == "idle", 60, "the cells run")


def _cells(driver, text, where="section.present"):
    from selenium.webdriver.common.by import By

    return [
        c
        for c in driver.find_elements(By.CSS_SELECTOR, f"{where} .jp-CodeCell")
        if text in c.get_attribute("textContent")
    ]


def _prompt(cell):
    from selenium.webdriver.common.by import By

    prompt = cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt")
    return prompt.get_attribute("textContent").strip()


@pytest.fixture
def slides(tmp_path):
    """Lesson 03 as committed: its Slide Types and full-mode outputs."""
    nb = nbformat.read(notebook("03"), as_version=4)
    assert all(rules.slide_type(c) for c in nb.cells), "committed with Slide Types"
    nbformat.write(nb, tmp_path / NAME)
    return nb


def test_a_training_cell_runs_inside_the_slideshow(tmp_path, slides):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    code = [i for i, c in enumerate(slides.cells) if c.cell_type == "code"]
    train = next(i for i in code if TRAINING in slides.cells[i].source)
    # What the training cell needs: the set-up, the data, the loop, the rate.
    needed = [i for i in code[:code.index(train)]
              if "plt.show()" not in slides.cells[i].source
              and "for layer in net" not in slides.cells[i].source]  # fmt: skip
    expose = ["--LabApp.expose_app_in_browser=True"]  # window.jupyterapp
    with lab_server(
        tmp_path, {"BNLESSON_FAST": "1"}, args=expose
    ) as lab, chrome() as d:
        open_notebook(d, lab, NAME)
        _run_cells(d, lab, needed)
        d.execute_script(
            "const nb = window.jupyterapp.shell.currentWidget.content;"
            f"nb.activeCellIndex = {train};"
            "return window.jupyterapp.commands.execute('RISE:preview');"
        )  # what Alt-R does, on the selected cell
        # The slideshow over the whole window, as the lecturer shows it
        # (View > Simple Interface, the file browser closed).
        time.sleep(1)
        d.execute_script(
            "window.jupyterapp.shell.collapseLeft();"
            "return window.jupyterapp.commands.execute('application:toggle-mode');"
        )
        frame = wait_for(
            lambda: d.find_elements(By.CSS_SELECTOR, "iframe[src*='/rise/']"),
            30, "RISE's slideshow",
        )[0]  # fmt: skip
        d.switch_to.frame(frame)
        cell = wait_for(lambda: _cells(d, TRAINING), 30, "the training slide")[0]
        slide = d.execute_script("return location.hash")
        # The lesson's math is typeset in the slideshow (Lab's own MathJax 3;
        # jupyterlab-rise's jupyterlab-mathjax3 is a Lab 3 extension, unused).
        assert d.find_elements(By.CSS_SELECTOR, ".reveal mjx-container")
        assert not [e for e in d.find_elements(By.CSS_SELECTOR, ".jp-RenderedMarkdown")
                    if "\\lVert" in e.get_attribute("textContent")]  # fmt: skip
        before = _prompt(cell)
        assert before == f"[{slides.cells[train].execution_count}]:"  # committed
        cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()
        ActionChains(d).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(
            Keys.SHIFT
        ).perform()
        cell = _cells(d, TRAINING, where=".reveal")[0]
        wait_for(lambda: _prompt(cell) not in (before, "[*]:", ""), 60, "training")
        d.execute_script(f"location.hash = '{slide}'")  # back to its slide
        cell = wait_for(lambda: _cells(d, TRAINING), 10, "the training slide")[0]
        # fast mode trains one epoch: a new count, and a new plot on the slide
        assert _prompt(cell) == f"[{len(needed) + 1}]:"
        assert "epoch 1, loss" in cell.get_attribute("textContent")
        image = cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img")
        wait_for(lambda: image.is_displayed() and image.rect["x"] >= 0, 10, "plot")
        shots = os.environ.get(SHOTS_ENV)
        if shots:
            time.sleep(1)  # the end of reveal.js's slide transition
            d.switch_to.default_content()
            d.save_screenshot(f"{shots}/rise_training_cell_run_in_the_slideshow.png")
    shutil.rmtree(tmp_path, ignore_errors=True)
