"""The benchmark runs on a tiny configuration and reports what it promises.

It checks the report's structure and arithmetic, never a speed.
"""

import json

import pytest

from bnlesson import bench


@pytest.fixture(scope="module")
def report():
    return bench.run(["Gluon nn.BatchNorm"], num_batches=1, repeats=1, verbose=False)


def test_report_has_pipeline_plain_and_asked_networks(report):
    names = [r["network"] for r in report["rows"]]
    assert names == ["data pipeline", "plain", "Gluon nn.BatchNorm"]
    assert report["batches_measured"] == 1 and report["repeats"] == 1


def test_ratios_are_relative_to_plain(report):
    rows = {r["network"]: r for r in report["rows"]}
    assert rows["plain"]["ratio_to_plain"] == 1.0
    for r in report["rows"]:
        assert r["sec_per_epoch"] > 0 and r["examples_per_sec"] > 0
        expected = r["sec_per_epoch"] / rows["plain"]["sec_per_epoch"]
        assert r["ratio_to_plain"] == pytest.approx(expected)
        # scaled from one batch of 256 to 60,000 images
        assert r["examples_per_sec"] * r["sec_per_epoch"] == pytest.approx(60_000)


def test_targets_report_only_measured_networks(report):
    targets = {t["target"]: t for t in report["targets"]}
    assert set(targets) == {
        "data pipeline <= 5% of a plain epoch",
        "Gluon nn.BatchNorm <= 1.10x plain",
    }
    for t in targets.values():
        assert t["met"] == (t["ratio"] <= t["limit"])


def test_format_report_lists_every_row(report):
    text = bench.format_report(report)
    for r in report["rows"]:
        assert r["network"] in text
    assert "target Gluon nn.BatchNorm <= 1.10x plain" in text


def test_cli_writes_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "b.json", tmp_path / "b.png"
    code = bench.main(["--networks", "plain", "--batches", "1", "--repeats", "1",
                       "--json", str(out), "--plot", str(png)])  # fmt: skip
    assert code == 0
    assert "sec/epoch" in capsys.readouterr().out
    assert [r["network"] for r in json.loads(out.read_text())["rows"]] == [
        "data pipeline", "plain",
    ]  # fmt: skip
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_unknown_network_is_a_clear_error(capsys):
    assert bench.main(["--networks", "resnet"]) == 2
    assert "unknown networks ['resnet']" in capsys.readouterr().err


def test_round_robin_interleaves_after_one_untimed_warm_up():
    calls = []

    def make(name, seconds):
        def fn():
            calls.append(name)
            return seconds.pop(0)

        return fn

    medians = bench.time_round_robin(
        {"a": make("a", [99.0, 1.0, 3.0, 2.0]), "b": make("b", [99.0, 5.0, 4.0, 6.0])},
        repeats=3,
    )
    assert calls == ["a", "b"] + ["a", "b"] * 3
    assert medians == {"a": 2.0, "b": 5.0}  # the warm-up's 99 is not counted
