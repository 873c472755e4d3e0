"""The service config: every problem at once, each with its key, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_ocr.cli import app
from edge_ocr.service.config import ConfigError, load_config, parse_config
from edge_ocr.service.sinks import HttpOptions, MqttOptions
from edge_ocr.service.tables import key_lines
from edge_ocr.service.unit import DEFAULT_CONFIG

EXAMPLE = Path(__file__).parents[3] / "edge_ocr/service/example-config.toml"

BROKEN = """\
[service]
device = "line 1"
drain_timeout_s = "ten"

[source]
uri = "synthetic"
retry_initial_s = 2.0
retry_max_s = 1.0

[modle]
name = "lines"

[pipeline]
max_batch = "many"
roi = [0, 0, 4, 4]
track = { min_reads = 0, max_tracks = 1.5 }

[metrics]
port = 70000

[[sinks]]
type = "kafka"

[[sinks]]
type = "http"
timeout_s = 0

[[sinks]]
type = "mqtt"
hots = "broker.local"

[[sinks]]
type = "file"
path = "a.jsonl"

[[sinks]]
type = "file"
path = "b.csv"
format = "xml"

[[sinks]]
type = "serial"
url = "serial:/dev/ttyUSB0?speed=9600"
max_retries = -1
"""


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    expected = [
        f"{path}:2: service.device: must be 1-64 of A-Z a-z 0-9 _ . -, got 'line 1'",
        f"{path}:3: service.drain_timeout_s: must be a number, got 'ten'",
        f"{path}:8: source.retry_max_s: must be >= retry_initial_s, got 1.0",
        f"{path}:10: modle: unknown key (did you mean 'model'?)",
        f"{path}:14: pipeline.max_batch: must be an integer, got 'many'",
        f"{path}:16: pipeline.track.max_tracks: must be an integer, got 1.5",
        f"{path}:19: metrics.port: must be in 0..65535 (0: any free port), got 70000",
        f"{path}:22: sinks[0].type: unknown sink type 'kafka' (known: stdout, file, mqtt, "
        "http, serial)",
        f"{path}:24: sinks[1].url: is required",
        f"{path}:26: sinks[1].timeout_s: must be > 0, got 0.0",
        f"{path}:30: sinks[2].hots: unknown key (did you mean 'host'?)",
        f"{path}:36: sinks[4].name: duplicate sink name 'file' (also sinks[3]); give each "
        "sink its own name",
        f"{path}:39: sinks[4].format: must be 'jsonl' or 'csv', got 'xml'",
        f"{path}:43: sinks[5].url: sink URL 'serial:/dev/ttyUSB0?speed=9600': unknown option "
        "'speed' (known: baud)",
        f"{path}:44: sinks[5].max_retries: sink option max_retries must be >= 0, got -1",
    ]
    assert len(lines) == len(caught.value.problems)
    assert sorted(lines) == sorted(expected)


def test_checks_of_the_pipeline_own_config_classes_are_reported_at_their_table() -> None:
    text = "[pipeline]\nroi = [0, 0, 4, 4]\n\n[source.synthetic]\nitems = -1\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text + "[[sinks]]\ntype = 'stdout'\n", "c.toml")
    assert str(caught.value).splitlines() == [
        "c.toml:1: pipeline: roi must be x, y, width, height with width and height of 8 or more",
        "c.toml:4: source.synthetic: items must be zero or more",
    ]


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[source]\nuri = "synthetic\n')
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML: .*line 2"):
        load_config(path)


def test_missing_file_and_missing_sinks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match=r"sinks: at least one \[\[sinks\]\] table is required"):
        parse_config("[source]\nuri = 'synthetic'\n")


def test_the_shipped_configs_are_valid_and_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    default = parse_config(DEFAULT_CONFIG)
    assert default.state_dir == tmp_path / "state"  # systemd's StateDirectory= wins
    assert default.source.uri == "/dev/video0" and default.metrics.host == "127.0.0.1"
    example = load_config(EXAMPLE)
    kinds = {sink.type for sink in example.sinks}
    assert kinds == {"stdout", "file", "mqtt", "http"}
    mqtt = next(sink for sink in example.sinks if sink.type == "mqtt")
    assert isinstance(mqtt.options, MqttOptions) and mqtt.options.qos == 1
    http = next(sink for sink in example.sinks if sink.type == "http")
    assert isinstance(http.options, HttpOptions) and http.options.headers


def test_relative_state_dir_is_beside_the_config(tmp_path: Path) -> None:
    path = tmp_path / "site/config.toml"
    path.parent.mkdir()
    path.write_text("[service]\nstate_dir = 'state'\n[[sinks]]\ntype = 'stdout'\n")
    assert load_config(path).state_dir == tmp_path / "site/state"


def test_key_lines_follows_tables_arrays_and_multiline_strings() -> None:
    text = '[a]\nx = 1\ndoc = """\nfake = 2\n"""\n[[s]]\nt = 1\n[[s]]\n"quoted key" = 2\n'
    lines = key_lines(text)
    assert lines == {
        "a": 1,
        "a.x": 2,
        "a.doc": 3,
        "s[0]": 6,
        "s[0].t": 7,
        "s[1]": 8,
        "s[1].quoted key": 9,
    }


def test_validate_config_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate-config", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "ok; source synthetic" in ok.output
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    bad = runner.invoke(app, ["validate-config", str(path)])
    assert bad.exit_code == 1
    assert f"edge-ocr: error: {path}:22: sinks[0].type: unknown sink type 'kafka'" in bad.output
    assert "15 problems" in bad.output
    assert "Traceback" not in bad.output


RULES = """\
[service]
state_dir = "state"

[rules]
template = "LOT [0-9]{4} | EXP {date:YYYY-MM-DD}"
expect_file = "expected.txt"

[rules.thresholds]
fail_evidence = 5.0
pass_min_grade = "C"

[[sinks]]
type = "stdout"
"""


def test_the_rules_section_is_parsed_with_the_expect_file_beside_the_config(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(RULES)
    (tmp_path / "expected.txt").write_text("LOT 4711\nEXP 2027-04-11\n")
    config = load_config(path)
    assert config.rules is not None
    assert config.rules.template == "LOT [0-9]{4} | EXP {date:YYYY-MM-DD}"
    assert config.rules.expect_file == tmp_path / "expected.txt"
    assert config.rules.thresholds.fail_evidence == 5.0
    assert config.rules.thresholds.pass_min_grade == "C"
    assert not config.expected_settable  # no serial sink to set it from
    assert parse_config("[[sinks]]\ntype = 'stdout'\n").rules is None
    ok = CliRunner().invoke(app, ["validate-config", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "rules: template 'LOT [0-9]{4} | EXP {date:YYYY-MM-DD}', expected code in" in ok.output


@pytest.mark.parametrize(
    ("change", "line", "key", "message"),
    [
        (('expect_file = "expected.txt"', 'expect_fil = "x"'), 6, "rules.expect_fil", "unknown"),
        (("LOT [0-9]{4}", "LOT [0-9"), 5, "rules.template", "unclosed '['"),
        (('expect_file = "expected.txt"', 'expect = "lot 1"'), 6, "rules.expect", "'l' is not"),
        (("expected.txt", "absent.txt"), 6, "rules.expect_file", "no such file"),
        (("fail_evidence = 5.0", "fail_evidence = -1"), 8, "rules.thresholds", "positive"),
        (("fail_evidence", "fail_evidnce"), 9, "rules.thresholds.fail_evidnce", "did you mean"),
        (('"C"', '"Z"'), 8, "rules.thresholds", "pass_min_grade must be one of"),
    ],
)
def test_a_bad_rules_section_names_the_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], line: int, key: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(RULES.replace(*change))
    (tmp_path / "expected.txt").write_text("LOT 4711\nEXP 2027-04-11\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.key == key and message in problem.message, problem
    assert problem.format(path).startswith(f"{path}:{line}: {key}: ")


def test_the_commented_rules_example_is_valid(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("# [rules]")))
    end = lines.index("[spool]")
    example = [
        line.removeprefix("# ")
        for line in lines[start:end]
        if line.startswith("# ") and "expect_file" not in line  # expect or expect_file
    ]
    assert example[0].startswith("[rules]") and any("[rules.thresholds]" in x for x in example)
    config = parse_config(
        "\n".join(example) + "\n[[sinks]]\ntype = 'stdout'\n", tmp_path / "config.toml"
    )
    assert config.rules is not None and config.rules.expect == "LOT A7K2291 | EXP 2027-04-11"
    assert config.rules.thresholds.pass_min_grade == "C"
