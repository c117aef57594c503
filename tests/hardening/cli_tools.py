"""Helpers for the hardening tests (beside conftest.py's fixtures): the `dropbridge` command as a subprocess
on a prepared data directory,
with its peak memory (ru_maxrss of that one child, not of every child the test run ever had)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float


def cli_env(settings, **extra) -> dict[str, str]:
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(settings.data_dir),
           "DROPBRIDGE_DATABASE_URL": settings.resolved_database_url,
           "DROPBRIDGE_QUEUE_URL": settings.resolved_queue_url,
           "DROPBRIDGE_SECRET_KEYS": settings.secret_keys or "", "COLUMNS": "200"}
    env.pop("DROPBRIDGE_LOG_LEVEL", None)
    env.update(extra)
    return env


def run_cli(args, env: dict[str, str], timeout: float = 120) -> Ran:
    """Run `dropbridge ARGS`; measure the child's own peak RSS with wait4."""
    out_path = Path(env["DROPBRIDGE_DATA_DIR"]) / f".out-{os.getpid()}"
    err_path = out_path.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", *args], env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        try:
            _, status, usage = _wait4(proc.pid, timeout)
        except TimeoutError:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Ran(proc.returncode, out_path.read_text(), err_path.read_text(), usage.ru_maxrss / 1024)


def _wait4(pid: int, timeout: float):
    import time

    deadline = time.monotonic() + timeout
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return got, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"dropbridge did not finish within {timeout}s")
        time.sleep(0.05)
