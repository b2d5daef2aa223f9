"""The benchmark runs on a tiny configuration and reports what it promises.

It checks the report's structure, and its figures against hand-computed
ones for given times; never a speed.
"""

import json

import pytest

from bnlesson.experiments import bench


@pytest.fixture(scope="module")
def report():
    return bench.run(["Gluon nn.BatchNorm"], num_batches=1, repeats=1, verbose=False)


def test_report_has_pipeline_plain_and_asked_networks(report):
    names = [r["network"] for r in report["rows"]]
    assert names == ["data pipeline", "plain", "Gluon nn.BatchNorm"]
    assert report["batches_measured"] == 1 and report["repeats"] == 1


def test_rows_from_given_times_by_hand():
    seconds = {"data pipeline": 0.01, "plain": 0.5, "Gluon nn.BatchNorm": 0.6}
    rows = {r["network"]: r for r in bench.report_rows(seconds, 256)}
    # 256 images in 0.5 s: 512 images/s, so 60,000 images take 117.1875 s
    assert rows["plain"] == pytest.approx(
        {"network": "plain", "sec_per_epoch": 117.1875, "examples_per_sec": 512.0,
         "ratio_to_plain": 1.0}
    )  # fmt: skip
    assert rows["Gluon nn.BatchNorm"]["sec_per_epoch"] == pytest.approx(140.625)
    assert rows["Gluon nn.BatchNorm"]["ratio_to_plain"] == pytest.approx(1.2)
    assert rows["data pipeline"]["examples_per_sec"] == pytest.approx(25_600)
    assert rows["data pipeline"]["ratio_to_plain"] == pytest.approx(0.02)


def test_measured_times_are_positive(report):
    for r in report["rows"]:
        assert r["sec_per_epoch"] > 0 and r["examples_per_sec"] > 0


def test_format_report_lists_every_row(report):
    text = bench.format_report(report)
    for r in report["rows"]:
        assert r["network"] in text
    assert "target" not in text, "the benchmark reports, it does not judge"


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
    err = capsys.readouterr().err
    assert "unknown network 'resnet' in --networks 'resnet'" in err
    assert "plain, plain-hybridized, scratch, scratch-fast, gluon" in err


@pytest.fixture
def fake_run(monkeypatch):
    """bench.run replaced by a recorder: the CLI's parsing, without timing."""
    calls = []

    def record(networks, num_batches, repeats):
        calls.append(networks)
        return {"device": "cpu(0)", "batch_size": 256, "batches_measured": 1,
                "repeats": 1, "rows": []}  # fmt: skip

    monkeypatch.setattr(bench, "run", record)
    return calls


@pytest.mark.parametrize("label", list(bench.VARIANTS))
def test_every_printed_label_can_be_selected(label, fake_run):
    assert bench.main(["--networks", label]) == 0
    assert fake_run == [[label]]


def test_short_keys_and_labels_mix(fake_run):
    assert bench.main(["--networks", "scratch, fast,gluon-hybridized,plain"]) == 0
    assert fake_run == [
        ["scratch, fast", "Gluon nn.BatchNorm, hybridized", "plain"]
    ]  # fmt: skip
    assert bench.parse_networks("scratch,scratch-fast") == [
        "scratch BatchNorm", "scratch, fast",
    ]  # fmt: skip


def test_help_lists_the_short_keys(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for key, label in bench.KEYS.items():
        assert f"{key} = '{label}'" in text


@pytest.mark.parametrize("option", ["--json", "--plot"])
@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_an_unwritable_output_fails_before_timing(tmp_path, capsys, fake_run,
                                                  option, where):  # fmt: skip
    (tmp_path / "a_file").write_text("")
    path = tmp_path / "a_file" / "b.json" if where == "under a file" else tmp_path
    assert bench.main(["--networks", "plain", option, str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {option} {path}: cannot write there" in err
    assert fake_run == [], "nothing was timed"


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
