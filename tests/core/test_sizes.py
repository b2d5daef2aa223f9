"""A lesson's sizes: written once in plain numbers, smaller in class and CI
(``bnlesson.core.sizes``, issue 21)."""

import ast

import pytest
from runmode import clear_run_env

from bnlesson import data
from bnlesson.core import sizes

from nbutil import NOTEBOOKS, SOLUTIONS, code_cells

TABLE = {"99": {"live": {"num_epochs": 3}, "fast": {"num_epochs": 1, "steps": 2}}}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    clear_run_env(monkeypatch)


def test_full_size_returns_what_the_lesson_wrote(monkeypatch, capsys):
    monkeypatch.setattr(sizes, "SMALLER", TABLE)
    assert sizes.sizes("99", num_epochs=5) == 5
    assert sizes.sizes("99", num_epochs=5, steps=50, lr=1.0) == (5, 50, 1.0)
    assert sizes.sizes("no such notebook", n=7) == 7  # full needs no table
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "mode, expected, says",
    [("live", (3, 50), "num_epochs 3 (full: 5)"),
     ("fast", (1, 2), "num_epochs 1 (full: 5), steps 2 (full: 50)")],
)  # fmt: skip
def test_smaller_runs_take_the_tables_values_and_say_so(
    monkeypatch, capsys, mode, expected, says
):
    monkeypatch.setattr(sizes, "SMALLER", TABLE)
    monkeypatch.setenv("BNLESSON_MODE", mode)
    assert sizes.sizes("99", num_epochs=5, steps=50) == expected
    assert capsys.readouterr().out == f"Smaller sizes for a {mode} run: {says}\n"


def test_a_size_the_lesson_does_not_name_is_refused(monkeypatch):
    monkeypatch.setattr(sizes, "SMALLER", TABLE)
    monkeypatch.setenv("BNLESSON_MODE", "fast")
    with pytest.raises(ValueError, match=r"lists \['steps'\], which sizes\(\) was not"):
        sizes.sizes("99", num_epochs=5)


def test_a_notebook_without_smaller_sizes_says_where_to_add_them(monkeypatch):
    monkeypatch.setattr(sizes, "SMALLER", TABLE)
    monkeypatch.setenv("BNLESSON_MODE", "live")
    with pytest.raises(KeyError, match="has no entry '42'"):
        sizes.sizes("42", num_epochs=5)
    with pytest.raises(ValueError, match="at least one size"):
        sizes.sizes("99")


def _sizes_call(path):
    """The notebook key and the names of a notebook's sizes(...) call, or None."""
    for source in code_cells(path):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "sizes":
                key = ast.literal_eval(node.args[0])
                return key, {k.arg for k in node.keywords}
    return None


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_each_notebook_and_its_table_entry_name_the_same_sizes(path):
    key = path.name[:2] + (" solutions" if path in SOLUTIONS else "")
    call = _sizes_call(path)
    table = sizes.SMALLER.get(key, {})
    listed = set().union(*(set(v) for v in table.values())) if table else set()
    if call is None:
        assert not listed, (
            f"{path.name} calls no sizes() but SMALLER[{key!r}] lists {listed}"
        )
        return
    assert call[0] == key, f"{path.name} asks for sizes({call[0]!r}), not {key!r}"
    assert listed <= call[1], (
        f"SMALLER[{key!r}] lists {listed - call[1]} the call lacks"
    )


@pytest.mark.parametrize(
    "key, mode", [(k, m) for k, v in sizes.SMALLER.items() for m in v]
)
def test_the_tables_data_sizes_are_possible(key, mode):
    per_class = sizes.SMALLER[key][mode].get("per_class")
    if per_class is not None:
        train, test = data.load_data_fashion_mnist(
            8, verbose=False, per_class=per_class
        )
        assert train.num_examples == 10 * per_class[0]
        assert test.num_examples == 10 * per_class[1]
