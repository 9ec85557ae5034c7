"""`payments report --by plan`: the ledger's MRR, customers, ARPU and movements per plan of arkops.toml.

The plans domain names which plan an item bills (`catalog.plan_of_item`: its price, or the product
`billing plans push` recorded); the billing domain computes the segments (`billing.segments`). Items no
plan names are the segment `other`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arkops.core.billing.records import SubscriptionItem
from arkops.core.billing.segments import OTHER, Segment, segment_report
from arkops.core.plans.catalog import plan_of_item, plans
from arkops.runtime import Runtime


def by_plan(rt: Runtime, *, now: datetime, months: int, currency: str | None = None) -> dict[str, Any]:
    """Every paid plan in arkops.toml's order (free plans hold no MRR), then `other` when an item is in no plan."""
    known = {plan_id: plan for plan_id, plan in plans(rt).items() if not plan.free}
    reporting = (currency or rt.config.currency).upper()

    def plan_id(item: SubscriptionItem) -> str:
        plan = plan_of_item(item, known)
        return plan.id if plan else OTHER

    segments = [Segment(plan.id, plan.name, reporting) for plan in known.values()]
    return segment_report(
        rt, now=now, months=months, by="plan", segments=segments, segment_of=plan_id, currency=currency
    )
