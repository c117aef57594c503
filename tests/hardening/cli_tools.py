"""Helpers for the hardening tests (beside conftest.py's fixtures): the `dropbridge` command as a subprocess
on a prepared data directory, with its own peak memory.

Linux carries a parent's RSS high-water mark into a forked child across exec, so a child of a test process
grown to 600 MB reports at least 600 MB whatever it used. The command therefore runs under a small launcher
process: the launcher's child starts from the launcher's few megabytes, and the launcher reports that
child's ru_maxrss (wait4) in a file."""

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


LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_cli(args, env: dict[str, str], timeout: float = 120) -> Ran:
    """Run `dropbridge ARGS`; measure its own peak RSS (see the module's docstring)."""
    out_path = Path(env["DROPBRIDGE_DATA_DIR"]) / f".out-{os.getpid()}"
    err_path, rss_path = out_path.with_suffix(".err"), out_path.with_suffix(".rss")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(rss_path), sys.executable, "-m",
                                 "dropbridge.cli", *args], env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the launcher and the command
            proc.wait()
            raise TimeoutError(f"dropbridge did not finish within {timeout}s") from None
    return Ran(proc.returncode, out_path.read_text(), err_path.read_text(), int(rss_path.read_text()) / 1024)
