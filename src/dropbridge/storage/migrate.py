"""Alembic, driven from code: `upgrade(engine)` brings any database (SQLite or PostgreSQL) to head.

Every `dropbridge` command upgrades first. A database already at head is the common case, and importing
Alembic to learn that costs a good part of a command's start: `upgrade` reads the head from the version
files itself and asks Alembic only when the database is behind (or the files say something it cannot read)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

HERE = Path(__file__).parent / "migrations"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and (head := file_head()) is not None and stamped(engine) == [head]:
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def file_head() -> str | None:
    """The one revision no version file names as its down_revision; None when that is not plain to see
    (several heads, an assignment that is not a literal), and Alembic decides."""
    revisions, parents = set(), set()
    for path in (HERE / "versions").glob("*.py"):
        found = dict(_ASSIGNMENT.findall(path.read_text()))
        try:
            revision, down = ast.literal_eval(found["revision"]), ast.literal_eval(found["down_revision"])
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        parents.update(down if isinstance(down, tuple | list) else [down] if down else [])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stamped(engine: Engine) -> list[str]:
    """The revisions the database's alembic_version table holds ([] when it has none yet)."""
    try:
        with engine.connect() as conn:
            return sorted(row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version")))
    except DBAPIError:
        return []


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
