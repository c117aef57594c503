"""Unit of work: one database transaction, the repositories that read inside it, and callbacks that
run only after it commits (enqueueing jobs must never announce work that was rolled back)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dropbridge.domain.errors import DuplicateKey, StorageError

from . import repositories as r
from .alert_repos import AlertRepo
from .dashboard_queries import DashboardRepo
from .intake import OrderIntakeRepo, WebhookIntakeRepo
from .jobs import JobAdminRepo, JobRepo
from .listing_queries import ListingRepo
from .money_repos import PayablesRepo, ReconciliationRepo
from .people import UserRepo
from .price_changes import PriceChangeRepo
from .vendor_queries import VendorRepo


def translate(exc: SQLAlchemyError) -> StorageError:
    """The database's exception as the domain knows it: a taken unique key, or a failed transaction."""
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
    return DuplicateKey(detail) if isinstance(exc, IntegrityError) else StorageError(detail)


class UnitOfWork:
    def __init__(self, session: Session):
        self.session = session
        self._after_commit: list[Callable[[], Any]] = []
        self._collected: dict[Callable, list] = {}
        self.stores = r.StoreRepo(session)
        self.listings = ListingRepo(session)
        self.suppliers = r.SupplierRepo(session)
        self.catalog = r.CatalogRepo(session)
        self.catalog_import = r.CatalogImportRepo(session)
        self.offers = r.OfferRepo(session)
        self.orders = r.OrderRepo(session)
        self.supplier_orders = r.SupplierOrderRepo(session)
        self.shipments = r.ShipmentRepo(session)
        self.ledger = r.LedgerRepo(session)
        self.jobs = JobRepo(session)
        self.tokens = r.TokenRepo(session)
        self.alerts = AlertRepo(session)
        self.audit = r.AuditRepo(session)
        self.sync_runs = r.SyncRunRepo(session)
        self.webhook_events = r.WebhookEventRepo(session)
        self.fx = r.FxRepo(session)
        self.supplier_stats = r.SupplierStatsRepo(session)
        self.job_admin = JobAdminRepo(session)
        self.invoices = r.InvoiceRepo(session)
        self.users = UserRepo(session)
        self.dashboard = DashboardRepo(session)
        self.connector_secrets = r.ConnectorSecretRepo(session)
        self.price_changes = PriceChangeRepo(session)
        self.vendors = VendorRepo(session)
        self.reconciliation = ReconciliationRepo(session)
        self.payables = PayablesRepo(session)

    # The generic verbs services need; anything query-shaped lives on a repository.
    def add(self, obj: Any) -> Any:
        self.session.add(obj)
        return obj

    def add_all(self, objs) -> None:
        self.session.add_all(objs)

    def flush(self) -> None:
        self.session.flush()

    def get(self, cls: type, id_: int) -> Any:
        return self.session.get(cls, id_)

    def get_for_update(self, cls: type, id_: int) -> Any:
        return self.session.get(cls, id_, with_for_update=True, populate_existing=True)

    def refresh(self, obj: Any) -> None:
        self.session.refresh(obj)

    def after_commit(self, fn: Callable[[], Any]) -> None:
        self._after_commit.append(fn)

    def after_commit_each(self, fn: Callable[[list], Any], item: Any) -> None:
        """`fn(items)` once after commit, with every item given for the same `fn` in this transaction (a batch
        that schedules a hundred jobs hands them to the queue in one call)."""
        items = self._collected.get(fn)
        if items is None:
            items = self._collected[fn] = []
            self._after_commit.append(lambda: fn(items))
        items.append(item)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Part of the transaction that can fail alone: on an exception what it wrote and the after-commit
        work it registered are undone, the rest of the transaction stands, and the exception goes on (a
        database error as StorageError)."""
        callbacks, collected = len(self._after_commit), {fn: len(items) for fn, items in self._collected.items()}
        nested = self.session.begin_nested()
        try:
            yield
            nested.commit()
        except BaseException as exc:
            if nested.is_active:
                nested.rollback()
            del self._after_commit[callbacks:]
            for fn in list(self._collected):
                if fn in collected:
                    del self._collected[fn][collected[fn]:]
                else:
                    del self._collected[fn]
            if isinstance(exc, SQLAlchemyError):
                raise translate(exc) from exc
            raise

    def commit(self) -> None:
        self.session.commit()
        self._collected = {}
        callbacks, self._after_commit = self._after_commit, []
        for fn in callbacks:
            fn()

    def rollback(self) -> None:
        self._after_commit.clear()
        self._collected = {}
        self.session.rollback()


class JoinedUnitOfWork(UnitOfWork):
    """A unit of work inside a transaction someone else holds (a feed stage's apply): commit() only flushes,
    and the holder runs the after-commit callbacks once its transaction committed."""

    def commit(self) -> None:
        self.session.flush()

    def run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        self._collected = {}
        for fn in callbacks:
            fn()


class UnitOfWorkFactory:
    """`with uow_factory() as uow:` for writers, `uow_factory(read_only=True)` for readers.

    On SQLite writers start with BEGIN IMMEDIATE; readers use a deferred BEGIN so they never wait
    behind a writer (WAL lets them read the last committed state)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._writer_engine = engine.execution_options(sqlite_immediate=True)
        self._sqlite_write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        self._writer = sessionmaker(
            bind=engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )
        self._reader = sessionmaker(bind=engine, expire_on_commit=False)

    def lean(self) -> AbstractContextManager[LeanUnitOfWork]:
        """`with uow_factory.lean() as uow:` a LeanUnitOfWork for insert-only hot paths (order and webhook
        intake); on SQLite it starts with BEGIN IMMEDIATE like every writer."""
        return _lean(self._writer_engine, self._sqlite_write_lock)

    def feed_stage(self):
        """A bulk staging area for one feed run (see feed_stage.py)."""
        from .feed_stage import FeedStage

        return FeedStage(self.engine)

    def __call__(self, read_only: bool = False) -> _UowContext:
        return _UowContext(self._reader if read_only else self._writer)


class _UowContext:
    def __init__(self, maker: sessionmaker):
        self._maker = maker
        self._uow: UnitOfWork | None = None

    def __enter__(self) -> UnitOfWork:
        self._uow = UnitOfWork(self._maker())
        return self._uow

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._uow is not None
        # close() rolls back anything uncommitted but, unlike rollback(), leaves loaded objects readable
        # (detached), which read-only callers rely on after the block.
        self._uow._after_commit.clear()
        self._uow.session.close()
        if isinstance(exc, SQLAlchemyError):
            raise translate(exc) from exc


class LeanUnitOfWork:
    """One writer transaction on a plain connection, for hot paths that only insert (order and webhook intake):
    no identity map, no flush. Same contract as UnitOfWork: nothing is kept unless `commit()` is called,
    and after-commit callbacks run only once the commit succeeded."""

    def __init__(self, conn: Connection, on_end: Callable[[], None] = lambda: None):
        self.conn = conn
        self._after_commit: list[Callable[[], Any]] = []
        self._on_end = on_end
        self.intake = OrderIntakeRepo(conn)
        self.webhooks = WebhookIntakeRepo(conn)

    def after_commit(self, fn: Callable[[], Any]) -> None:
        self._after_commit.append(fn)

    def commit(self) -> None:
        self.conn.commit()
        self._on_end()
        callbacks, self._after_commit = self._after_commit, []
        for fn in callbacks:
            fn()

    def rollback(self) -> None:
        self._after_commit.clear()
        self.conn.rollback()
        self._on_end()


class _Once:
    def __init__(self, fn: Callable[[], Any] | None):
        self._fn = fn

    def __call__(self) -> None:
        fn, self._fn = self._fn, None
        if fn is not None:
            fn()


@contextmanager
def _lean(engine: Engine, lock: threading.Lock | None) -> Iterator[LeanUnitOfWork]:
    # SQLite has one writer at a time. Threads of this process queue on a lock for it instead of
    # meeting in SQLite's busy handler, which sleeps and retries (up to 100 ms a nap) and lets late
    # comers overtake: under 32 concurrent requests that made p99 seconds. Other processes still meet
    # in the busy handler. Held from BEGIN IMMEDIATE to COMMIT or ROLLBACK; after-commit work runs
    # without it.
    release = _Once(lock.release if lock is not None else None)
    if lock is not None:
        lock.acquire()
    try:
        with engine.connect() as conn:  # closing rolls back whatever was not committed
            uow = LeanUnitOfWork(conn, release)
            try:
                yield uow
            except SQLAlchemyError as exc:
                raise translate(exc) from exc
            finally:
                uow._after_commit.clear()
    finally:
        release()
