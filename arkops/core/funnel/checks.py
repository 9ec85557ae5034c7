"""The funnel's `doctor` check: the rules name known stages in funnel order, the demo page is tracked."""

from __future__ import annotations

from arkops.core.doctor import FAIL, OK, Check
from arkops.runtime import Runtime


def rules(rt: Runtime) -> Check:
    from arkops.core.funnel.stages import rule_problems
    from arkops.core.sections import formats

    problems = rule_problems(rt)
    if problems:
        return Check("funnel rules", FAIL, "; ".join(problems))
    percent = formats(rt).percent
    shown = ", ".join(
        f"{r['from']} -> {r['to']} >= {percent(r['min_rate'])} over {r['window_days']} d (min {r['min_sample']})"
        for r in rt.config["funnel"]["rules"]
    )
    return Check("funnel rules", OK, shown or "no rules: `funnel check` watches only that visits arrive")
