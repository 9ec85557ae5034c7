"""The funnel domain's keys of arkops.toml: `[funnel]` and its rules.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, ListOf, Spec, Table, at_least, fraction, one_of, page_path

FUNNEL_STAGES = ("visitors", "demo", "trial", "active", "paid")  # in funnel order


def _funnel_legacy(raw: dict) -> str | None:
    """The `rate_thresholds` map and `min_sample` of older files, rewritten as [[funnel.rules]] tables."""
    if "rate_thresholds" not in raw and "min_sample" not in raw:
        return None
    sample = raw.get("min_sample", 30)
    thresholds = raw.get("rate_thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        thresholds = {"demo_to_trial": 0.05, "trial_to_paid": 0.1}
    tables = []
    for name, rate in thresholds.items():
        start, _, end = str(name).partition("_to_")
        tables.append(
            f'[[funnel.rules]] from = "{start}" to = "{end}" min_rate = {rate} window_days = 7 min_sample = {sample}'
        )
    return (
        "rate_thresholds and min_sample are no longer read; remove them and write one [[funnel.rules]] table "
        "per rate: " + " ".join(tables)
    )


CONFIG: dict[str, Spec] = {
    "funnel": Table(
        {
            "demo_page": Field(
                str, "/demo", page_path, doc="the tracked page whose visitors, with demo requests, make the demo stage"
            ),
            "no_data_hours": Field(int, 24, at_least(1), doc="alarm when no visit arrived for this long"),
            "rules": ListOf(
                Table(
                    {
                        "from": Field(str, "demo", one_of(*FUNNEL_STAGES), doc="the earlier stage (the denominator)"),
                        "to": Field(str, "trial", one_of(*FUNNEL_STAGES), doc="the later stage"),
                        "min_rate": Field(float, 0.05, fraction, doc="the rule fails under this rate (0.05 = 5 %)"),
                        "window_days": Field(int, 7, at_least(1), doc="the rate over this many days back from now"),
                        "min_sample": Field(
                            int, 30, at_least(1), doc="under this many in the earlier stage: not enough data"
                        ),
                    }
                ),
                [
                    {"from": "demo", "to": "trial", "min_rate": 0.05, "window_days": 7, "min_sample": 30},
                    {"from": "trial", "to": "paid", "min_rate": 0.1, "window_days": 7, "min_sample": 30},
                ],
                doc="conversion-rate rules checked daily by `funnel check`, one [[funnel.rules]] table each",
                shown=lambda rule: f"{rule['from']} -> {rule['to']}",
            ),
        },
        doc="conversion-rate alerts and the no-data alarm",
        legacy=_funnel_legacy,
    ),
}
