"""Start-up recovery of feed runs: a run left `running` by a process that died (kill -9, power loss) is
marked failed, and every store with listings is owed a stock push, so no store keeps stock that a feed may
have changed. A run under way in another live process is left alone (see storage/run_owner.py)."""

from __future__ import annotations

from .records import audit, raise_alert, schedule, schedule_repricing

REASON = "abandoned: the process running it stopped before the run was recorded"


def recover_abandoned_runs(ctx) -> list[int]:
    """Returns the ids of the runs marked failed."""
    with ctx.uow() as uow:
        runs = uow.sync_runs.abandoned()
        if not runs:
            return []
        now = ctx.clock()
        for run in runs:
            run.status, run.finished_at = "failed", now
            run.report = {**(run.report or {}), "reason": REASON}
            raise_alert(uow, ctx, "feed.abandoned", f"feed {run.source} (run {run.id}) {REASON}; "
                        "stores were owed a stock push", severity="error", supplier_id=run.supplier_id)
            audit(uow, ctx, "feed.abandoned", f"sync_run:{run.id}", {"source": run.source},
                  supplier_id=run.supplier_id)
        last = runs[-1].id
        stores = uow.listings.stores_with_listings()
        for store_id, store_name in stores:
            schedule(uow, ctx, "push_stock", f"push:{store_id}:recover:{last}", {"store": store_name})
        schedule_repricing(uow, ctx, f"recover:{last}", stores)
        uow.commit()
    return [r.id for r in runs]
