"""Start-up: the persistent compilation cache, and Ctrl-C while the server compiles."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from jaxaccomp.compile_cache import ENV, cache_dir
from tests.support.servers import free_udp_socket

ROOT = Path(__file__).resolve().parent.parent


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    for off in ("", "off", "OFF", "0"):
        monkeypatch.setenv(ENV, off)
        assert cache_dir() is None
    monkeypatch.delenv(ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "jaxaccomp" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "jaxaccomp" / "xla"


def _serve(cache: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, ENV: cache}
    # A shell running the tests in the background starts them with SIGINT ignored, and Python keeps a
    # signal ignored at start-up (as a terminal's Ctrl-C should not reach background jobs): serve.py
    # runs with Python's own SIGINT handler back, as from a terminal.
    argv = ["serve.py", "--port", "0", "--max-stems", "1", *args]
    launch = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
              f"sys.argv = {argv!r}; runpy.run_path('serve.py', run_name='__main__')")
    return subprocess.Popen([sys.executable, "-c", launch], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def _wait_for(process: subprocess.Popen, prefix: str, timeout: float = 300.0) -> list[str]:
    """serve.py's stderr lines up to the first that starts with `prefix`; past `timeout` it is killed."""
    lines = []
    watchdog = threading.Timer(timeout, process.kill)  # a line that never comes must not hang the suite
    watchdog.start()
    try:
        for line in process.stderr:
            lines.append(line)
            if line.startswith(prefix):
                return lines
    finally:
        watchdog.cancel()
    raise AssertionError(f"serve.py ended (status {process.wait()}) before printing {prefix!r}: {''.join(lines)}")


def test_server_start_fills_the_cache_and_a_restart_reads_it(tmp_path):
    cache = tmp_path / "xla"
    for start in range(2):
        server = _serve(str(cache))
        try:
            lines = _wait_for(server, "serving on")
            assert any(re.fullmatch(r"one cycle of 1 stem\(s\) takes \d+ ms of the 1500 ms a step allows\n", line)
                       for line in lines), lines  # timed before serving, against the budget of r = 1/4
            if start == 0:
                entries = set(os.listdir(cache))
                assert entries, "the first start wrote no compiled program"
        finally:
            server.send_signal(signal.SIGINT)
            assert server.wait(timeout=60) == 0
    assert set(os.listdir(cache)) == entries  # the restart compiled nothing new: every program came from the cache


def test_ctrl_c_while_compiling_ends_at_once_with_status_130():
    server = _serve("off")  # no cache: the warm-up compiles for seconds
    try:
        _wait_for(server, "compiling")
        time.sleep(0.5)
        sent = time.monotonic()
        server.send_signal(signal.SIGINT)
        status = server.wait(timeout=30)
        waited = time.monotonic() - sent
        rest = server.stderr.read()
    finally:
        server.kill()
    assert status == 130, rest
    assert rest.strip().splitlines()[-1] == "interrupted while starting up"
    assert "Traceback" not in rest and "serving on" not in rest
    print(f"serve.py ended {waited:.2f} s after SIGINT")


def test_sigterm_while_compiling_ends_with_status_130():
    server = _serve("off")
    try:
        _wait_for(server, "compiling")
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=30)
        rest = server.stderr.read()
    finally:
        server.kill()
    assert status == 130 and "interrupted while starting up" in rest


def test_startup_benchmark_reports_cold_warm_and_off_starts(tmp_path):
    from jaxaccomp.bench.startup_time import main

    out = tmp_path / "startup.json"
    result = main(["--mode", "consistency", "--repeats", "1", "--json", str(out)])
    assert out.is_file() and set(result["medians"]) == {"cold", "warm", "off"}
    for kind, runs in result["runs"].items():
        assert len(runs) == 1 and runs[0]["ready_s"] > runs[0]["warm_up_s"] > 0, kind


def test_network_mistakes_are_one_line_errors_before_anything_compiles():
    with free_udp_socket() as busy:
        taken = str(busy.getsockname()[1])
        for args, status, message in [
            (["--port", "70000"], 2, "a port is 0 to 65535, got 70000"),
            (["--client-port", "-1"], 2, "a port is 0 to 65535, got -1"),
            (["--port", taken], 1, f"error: cannot listen on 127.0.0.1:{taken}: "),
            (["--host", "203.0.113.9"], 1, "error: cannot listen on 203.0.113.9:"),  # an address this host lacks
            (["--client-host", "no.such.host.invalid"], 1, "is not a usable address"),
        ]:
            done = subprocess.run([sys.executable, "serve.py", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == status and message in done.stderr, (args, done.stderr)
            assert "compiling" not in done.stderr and "Traceback" not in done.stderr
            lines = done.stderr.strip().splitlines()
            assert message in lines[-1] and (status == 2 or len(lines) == 1)  # argparse prints its usage first
