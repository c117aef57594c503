"""Running dropbridge: init, migrate, serve, worker, demo."""

from __future__ import annotations

import typer

from .output import console, print_order
from .runtime import load_app


def register(app: typer.Typer) -> None:
    for command in (init, migrate, serve, worker, demo):
        app.command()(command)


def init():
    """Create the database (or bring it up to date) and the secret key file."""
    built = load_app()
    console.print(f"database ready: {built.engine.url.render_as_string(hide_password=True)}")


def migrate():
    """Upgrade the database schema to the latest migration."""
    from dropbridge.storage.migrate import current

    built = load_app()
    console.print(f"schema at revision {current(built.engine)}")


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = typer.Option(None, help="job threads"),
          sandbox: bool = typer.Option(False, help="also start the emulators and connect them")):
    """API, dashboard, worker and scheduler in one process (the embedded default)."""
    import uvicorn

    from dropbridge.api.app import create_app
    from dropbridge.jobs.queue import Ticker

    built = load_app(log_level="INFO")
    _recover(built)
    consumer = built.huey.create_consumer(workers=workers or built.settings.worker_threads, worker_type="thread",
                                          max_delay=built.settings.worker_poll_max_seconds)
    ticker = Ticker(built.ctx, built.huey)
    emulators = None
    if sandbox:
        from dropbridge.demo.environment import DemoEnvironment

        emulators = DemoEnvironment(built.ctx, api_url=f"http://{host}:{port}")
        emulators.start()
    consumer.start()
    ticker.start()
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    console.print(f"dropbridge is up: open http://{shown}:{port}/ (dashboard), API docs at /docs")
    with built.ctx.uow(read_only=True) as uow:
        if not uow.users.all():
            console.print("no dashboard user yet: dropbridge user add you@example.com --role owner")
    try:
        uvicorn.run(create_app(built), host=host, port=port, log_level="info")
    finally:
        ticker.stop()
        consumer.stop(graceful=True)
        if emulators:
            emulators.stop()


def worker(threads: int = typer.Option(None, help="job threads"),
           scheduler: bool = typer.Option(True, help="also run the sweeper and tracking poll (one per deployment)")):
    """Job workers only, for scaled deployments (point DROPBRIDGE_QUEUE_URL at Redis)."""
    from dropbridge.jobs.queue import Ticker
    from dropbridge.jobs.runner import sweep

    built = load_app(migrate=False, log_level="INFO")
    consumer = built.huey.create_consumer(workers=threads or built.settings.worker_threads, worker_type="thread",
                                          max_delay=built.settings.worker_poll_max_seconds)
    ticker = Ticker(built.ctx, built.huey) if scheduler else None
    _recover(built)
    sweep(built.ctx, grace_seconds=0)  # recover what a crashed predecessor left
    if ticker:
        ticker.start()
    try:
        consumer.run()  # handles SIGINT/SIGTERM gracefully
    finally:
        if ticker:
            ticker.stop()


def _recover(built) -> None:
    """Feed runs a dead process left `running` are closed as failed, and stores are owed a stock push."""
    from dropbridge.services.recover_runs import recover_abandoned_runs

    runs = recover_abandoned_runs(built.ctx)
    if runs:
        console.print(f"{len(runs)} abandoned feed runs marked failed ({', '.join(map(str, runs))}); "
                      "stores are owed a stock push", style="yellow")


def demo(keep_running: bool = typer.Option(False, help="leave the emulators and API up afterwards")):
    """Run a complete day of a store against local emulators and print what happened."""
    from dropbridge.bootstrap import configure_logging
    from dropbridge.demo.run import run_demo

    built = load_app()
    configure_logging("ERROR")  # the demo prints its own story
    code = run_demo(built, console, print_order, keep_running=keep_running)
    raise typer.Exit(code)

