"""`crdtstate` refuses a mistake with one line on stderr, never a traceback, and before it
listens: a bad --listen, an unreadable --secret-file, --metrics-port without its extra, a bad
--id or --peer, a negative --updates (exit status 2); a port already taken (exit status 1)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m crdtstate *args` (after `prelude`); a process that went on serving fails."""
    code = f"{prelude}\nimport sys\nfrom crdtstate.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a refused command line: usage, then one line, nothing else."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0]
    assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), result.stderr
    return errors[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["serve", "--id", "a", "--listen", "127.0.0.1:99999"], "port 99999 is out of range"),
        (["serve", "--id", "a", "--listen", "localhost"], "is not host:port"),
        (["serve", "--id", "a", "--secret-file", "/no/such/secret"], "No such file"),
        (["serve", "--id", "a", "--peer", "http://10.0.0.2:7700"], "not a websocket URL"),
        (["serve", "--id", "a", "--peer", "ws://10.0.0.2:99999"], "Port out of range"),
        (["serve", "--id", "", "--db", "x.db"], "replica id '' is empty"),
        (["serve", "--id", " "], "starts or ends with whitespace"),
        (["serve", "--id", "a", "--tls-cert", "/no/such/cert.pem"], "--tls-cert /no/such"),
        (["serve", "--id", "a", "--tls-key", "k.pem"], "--tls-key needs --tls-cert"),
        (["serve", "--id", "a", "--metrics-port", "70000"], "70000 is out of range"),
        (["serve"], "needs --id, --db, or both"),
        (["demo", "--updates", "-5"], "-5 is not at least 1"),
        (["demo", "--updates", "0"], "0 is not at least 1"),
    ],
)
def test_a_bad_command_line_is_one_error_line_and_exit_2(args: list[str], says: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert says in one_error_line(result)
    assert result.stdout == ""


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("\n")
    result = run("serve", "--id", "a", "--secret-file", str(secret))
    assert result.returncode == 2
    assert "is empty" in one_error_line(result)


def test_metrics_port_without_the_extra_is_refused_before_listening(taken_port: int) -> None:
    # prometheus_client made unimportable, as on an install without the `metrics` extra; the
    # listen address is taken, so an attempt to listen first would show as another error.
    result = run(
        "serve",
        "--id",
        "a",
        "--listen",
        f"127.0.0.1:{taken_port}",
        "--metrics-port",
        "0",
        prelude="import sys; sys.modules['prometheus_client'] = None",
    )
    assert result.returncode == 2
    assert "pip install 'crdtstate[metrics]'" in one_error_line(result)


@pytest.mark.parametrize("durable", [False, True])
def test_a_taken_listen_port_is_one_log_line_and_exit_1(
    taken_port: int, durable: bool, tmp_path: Path
) -> None:
    db = ["--db", str(tmp_path / "node.db")] if durable else []
    result = run("serve", "--id", "a", "--listen", f"127.0.0.1:{taken_port}", *db)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{taken_port}: Address already in use" in errors[0]


def test_a_taken_metrics_port_is_one_log_line_and_exit_1(taken_port: int) -> None:
    result = run("serve", "--id", "a", "--listen", "127.0.0.1:0", "--metrics-port", str(taken_port))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, result.stderr
    assert f"cannot serve metrics on 127.0.0.1:{taken_port}" in errors[0]
