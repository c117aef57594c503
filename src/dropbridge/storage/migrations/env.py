"""Alembic environment: the engine comes from the caller (storage/migrate.py); batch mode for SQLite."""

from alembic import context

from dropbridge.storage.tables import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by copy, drop and rename: with foreign keys on, dropping the old copy of a
        # parent table would delete (cascade) or refuse for its children. The pragma only works outside a
        # transaction, hence on the driver's connection before ours begins; the check below replaces it.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(f"migration left rows without their parent rows: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
