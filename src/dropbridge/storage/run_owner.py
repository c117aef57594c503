"""Who is running a feed sync, so that a run left `running` by a process that died can be told from one
still under way in another process (see services/recover.py).

A run records its owner (host, process id, process start time) when it starts. On PostgreSQL the run's
stage also holds a session advisory lock named after the run for as long as it lives: the server drops it
when the process dies, whatever host it ran on. On SQLite (one machine) a run is alive while its owner
process is: same host, that pid running, started at the same moment (so a recycled pid is not mistaken
for it).
"""

from __future__ import annotations

import os
import socket

RUN_LOCK_CLASS = 0x6462  # the first key of pg_advisory_lock(int, int): "db"; the second is the run id
_local_runs: set[int] = set()  # runs this process has under way (their stages are open)


def hold(run_id: int) -> None:
    _local_runs.add(run_id)


def release(run_id: int) -> None:
    _local_runs.discard(run_id)


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return ""
    # Fields after the command name (which may hold spaces) start after its closing parenthesis.
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else ""


def owner_token() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def owner_alive(token: str | None, run_id: int) -> bool:
    """Whether the process that wrote `token` is still running run `run_id` (False when it cannot be)."""
    if run_id in _local_runs:
        return True
    if not token:
        return False
    host, _, rest = token.partition("/")
    pid_text, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # SQLite lives on one machine: an owner elsewhere is a previous container or host
    pid = int(pid_text)
    if pid == os.getpid():
        # This very process (same start): a run of ours about to register. The same pid started at another
        # moment: a predecessor's (a restarted container reuses low pids).
        return bool(started) and started == _start_time(pid)
    if not _pid_alive(pid):
        return False
    return not started or _start_time(pid) == started


def pg_run_alive(connection, run_id: int) -> bool:
    """PostgreSQL: whether some session holds the run's lock (its sync is under way)."""
    from sqlalchemy import text

    got = connection.execute(text("SELECT pg_try_advisory_lock(:k, :id)"), {"k": RUN_LOCK_CLASS, "id": run_id})
    if not got.scalar():
        return True
    connection.execute(text("SELECT pg_advisory_unlock(:k, :id)"), {"k": RUN_LOCK_CLASS, "id": run_id})
    return False
