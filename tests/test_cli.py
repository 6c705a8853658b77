"""The CLI as a user runs it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import AMAZON, REPO, require_data

from segassist.cli import cli, main


def run(*args: str, env_db: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script like a user would."""
    return _run_with({"SEGASSIST_DB_URL": env_db} if env_db else {}, *args)


def test_init_import_status_end_to_end(db_url, tmp_path):
    require_data(AMAZON)
    first = run("--db", db_url, "init")
    assert first.returncode == 0, first.stderr
    assert "0001_initial_schema" in first.stdout
    assert "already up to date" in run("--db", db_url, "init").stdout

    imported = run("--db", db_url, "import", "amazon", str(AMAZON))
    assert imported.returncode == 0, imported.stderr
    assert "reviews +10,261" in imported.stdout
    assert "writing" in imported.stderr  # progress bar

    status = run("--db", db_url, "status")
    assert status.returncode == 0, status.stderr
    assert "reviews" in status.stdout and "10,261" in status.stdout
    assert "activity: 2004-09-18 .. 2014-07-22" in status.stdout
    assert "customers with review or support text: 1,429 (100%)" in status.stdout


def test_database_chosen_by_environment_when_no_option(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    assert run("init", env_db=url).returncode == 0
    assert (tmp_path / "env.db").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("status",), 2, "Run 'segassist init' first"),
        (("import", "amazon", "/no/such/file.json"), 2, "file not found"),
        (("import", "files", "--mapping", "/no/map.toml", "x.csv"), 2, "Mapping file"),
        (("import", "nosuch", "x"), 2, "No such command"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, args, code, message):
    result = run("--db", f"sqlite:///{tmp_path / 'e.db'}", *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database(tmp_path):
    result = run("--db", "postgresql://127.0.0.1:1/nothing", "init")
    assert result.returncode == 1
    assert "Cannot reach the database" in result.stderr and "Traceback" not in result.stderr


def test_database_refusal_is_reported_without_traceback(tmp_path, capsys):
    require_data(AMAZON)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["--db", url, "init"]) == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "r.db") as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON reviews "
            "BEGIN SELECT RAISE(ABORT, 'no room left'); END"
        )
    assert main(["--db", url, "import", "amazon", str(AMAZON)]) == 1
    err = capsys.readouterr().err
    assert "no room left" in err and "Nothing was written" in err


def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


def test_every_command_is_documented_in_help_and_readme():
    readme = (REPO / "README.md").read_text()
    for path, command in _commands(cli):
        assert command.help and len(command.help) > 20, f"{path} lacks help text"
        assert f"segassist {' '.join(path)}" in readme or (
            path[0] == "import" and "segassist import" in readme
        ), f"README does not mention 'segassist {' '.join(path)}'"


def test_index_and_search_from_the_command_line(tmp_path):
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text(
        '{"c": "u1", "t": "2024-01-02", "s": 1, "x": "The strings snapped on day two."}\n'
        '{"c": "u2", "t": "2024-01-03", "s": 5, "x": "Lovely warm tone from this amp."}\n'
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'source = "cli"\n[columns]\ncustomer = "c"\ntime = "t"\nrating = "s"\ntext = "x"\n'
    )
    env_home = ["--db", f"sqlite:///{tmp_path / 'w.db'}"]
    assert (
        run(*env_home, "import", "files", "--mapping", str(mapping), str(reviews)).returncode == 0
    )
    home = {"SEGASSIST_HOME": str(tmp_path / "home")}
    indexed = _run_with(home, *env_home, "index")
    assert indexed.returncode == 0, indexed.stderr
    assert "2 added" in indexed.stdout and "2 texts indexed with minilm" in indexed.stdout
    again = _run_with(home, *env_home, "index")
    assert "0 added" in again.stdout and "2 unchanged" in again.stdout

    found = _run_with(home, *env_home, "search", "broken strings", "--rating", "1-2")
    assert found.returncode == 0, found.stderr
    assert "The strings snapped on day two." in found.stdout
    assert "Lovely warm tone" not in found.stdout

    other = _run_with(home, *env_home, "index", "--model", "e5-multilingual")
    assert other.returncode == 2
    assert "segassist index --rebuild --model e5-multilingual" in other.stderr


def _run_with(extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": "/nonexistent-home",
        **extra_env,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "segassist"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )


def test_segmenter_commands_end_to_end(tmp_path):
    env = {"SEGASSIST_HOME": str(tmp_path / "home")}
    assert _run_with(env, "synth", "--customers", "600", "--seed", "2").returncode == 0
    trained = _run_with(env, "train", "--segments", "4")
    assert trained.returncode == 0, trained.stderr
    assert "text: none (behaviour only)" in trained.stdout
    assert "promoted: first version: now serving" in trained.stdout
    assert "epochs in" in trained.stderr  # progress: in a pipe, one line for the stage
    assert "\r" not in trained.stderr

    scored = _run_with(env, "score")
    assert scored.returncode == 0, scored.stderr
    assert "scored 600 customers" in scored.stdout

    shown = _run_with(env, "segments")
    assert shown.returncode == 0 and shown.stdout.count("customers (") == 4
    # The semantic layer follows score: every scored customer has a segment and its name.
    facts = _run_with(
        env,
        "sql",
        "SELECT COUNT(*) AS scored, COUNT(DISTINCT segment_name) AS names, "
        "MIN(churn_risk) >= 0 AND MAX(churn_risk) <= 1 AS in_range "
        "FROM customer_facts WHERE segment_id IS NOT NULL",
    )
    assert facts.returncode == 0, facts.stderr
    assert re.search(r"\|\s*600\s*\|\s*4\s*\|\s*1\s*\|", facts.stdout), facts.stdout

    explained = _run_with(env, "explain", "SC0000000", "--json")
    assert explained.returncode == 0, explained.stderr
    import json

    facts = json.loads(explained.stdout)
    assert facts["customer_id"] == "SC0000000" and 0 <= facts["churn_risk"] <= 1

    unknown = _run_with(env, "explain", "nobody")
    assert unknown.returncode == 2 and "No customer with id 'nobody'" in unknown.stderr

    report_dir = tmp_path / "report"
    evaluated = _run_with(env, "evaluate", "--out", str(report_dir), "--segments", "4")
    assert evaluated.returncode == 0, evaluated.stderr
    report = (report_dir / "report.md").read_text()
    assert "| rfm |" in report and "| fusion |" in report and "ARI vs truth" in report
    assert "## Who is in each segment (bias check)" in report and "country:" in report
    assert (report_dir / "metrics.png").stat().st_size > 10_000


def test_segmenter_commands_before_training_say_what_to_do(tmp_path):
    env = {"SEGASSIST_HOME": str(tmp_path / "home")}
    assert _run_with(env, "synth", "--customers", "50").returncode == 0
    for command in (["score"], ["segments"], ["explain", "SC0000001"]):
        result = _run_with(env, *command)
        assert result.returncode == 2, command
        assert "Run 'segassist train' first" in result.stderr


def test_tuning_the_review_encoder_end_to_end(tmp_path):
    """`train --tune-text` says what tuning found; `explain` reads a tuned model's texts;
    `evaluate --tune-text` sets frozen and tuned vectors side by side in the report."""
    env = {"SEGASSIST_HOME": str(tmp_path / "home")}
    assert _run_with(env, "synth", "--customers", "300", "--seed", "2").returncode == 0
    indexed = _run_with(env, "index")
    assert indexed.returncode == 0, indexed.stderr
    trained = _run_with(env, "train", "--segments", "4", "--tune-text", "--tune-reviews", "32")
    assert trained.returncode == 0, trained.stderr
    assert re.search(
        r"Text encoder LoRA-tuned on 32 training reviews in \d+ s; validation loss "
        r"[\d.]+ tuned vs [\d.]+ frozen: (kept|not kept)",
        trained.stdout,
    ), trained.stdout
    assert "reviews in" in trained.stderr  # the tuning stage's progress line
    assert _run_with(env, "score").returncode == 0
    explained = _run_with(env, "explain", "SC0000000", "--json")
    assert explained.returncode == 0, explained.stderr

    report_dir = tmp_path / "report"
    evaluated = _run_with(
        env,
        "evaluate",
        "--out",
        str(report_dir),
        "--segments",
        "4",
        "--tune-text",
        "--tune-reviews",
        "32",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    report = (report_dir / "report.md").read_text()
    assert "## Review encoder: frozen vs LoRA-tuned" in report
    assert "| fusion+lora |" in report and "| fusion-text+lora |" in report
    assert re.search(r"\| LoRA-tuned \| [\d.]+ \| [\d.]+ \|", report), report
    assert "LoRA helps the fusion here" in report or "LoRA does not help here" in report
