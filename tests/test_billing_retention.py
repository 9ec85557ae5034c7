"""Retention figures (NRR, GRR, MRR churn rates, quick ratio), cohorts and the report by plan and currency, checked
against values worked out by hand from Stripe-shaped events (tests/stripe_shapes.py).

The business, in UTC, all prices monthly in EUR (plans: starter 900, pro 2900, business 9900; `legacy` is no plan):
  2025-05-05  E starts on legacy at 1900                          May: new 1900            MRR  1900
  2025-06-10  E cancels                                           June: churn -1900        MRR     0
  2025-07     (starts with no MRR) A starts on pro 2900 (07-10),
              B on business 9900 (07-20)                          July: new 12800          MRR 12800
  2025-08-15  C starts on starter 900                             Aug: new 900             MRR 13700
  2026-01     C cancels (01-20); D starts on pro 2900 (01-25)     Jan: churn -900, new 2900 MRR 15700
  2026-02-10  A upgrades to business 9900                         Feb: expansion +7000     MRR 22700
  2026-03     B downgrades to pro 2900 (03-05); C comes back
              on pro 2900 (03-12)                                 Mar: contraction -7000,
                                                                       reactivation +2900  MRR 18600
  then nothing moves until now, 2026-07-15.
"""

from __future__ import annotations

import json

import pytest
from conftest import write_config
from stripe_shapes import event, invoice, subscription, ts
from test_billing import apply_all
from test_section_rendering import parts

PLANS = """
[plans.starter]
price = 900
stripe_price = "price_starter_month1"
[plans.pro]
price = 2900
stripe_price = "price_pro_month1"
[plans.business]
price = 9900
stripe_price = "price_business_month1"
"""
NOW = "2026-07-15T12:00:00Z"


def plan(product: str, amount: int) -> list[tuple]:
    return [(amount, "eur", "month", 1, 1, product)]


def created(sub: str, customer: str, product: str, amount: int, day: str) -> dict:
    obj = subscription(sub, customer, plan(product, amount), start=day)
    return event(f"evt_{sub}_created", "customer.subscription.created", obj, ts(day))


def changed(sub: str, customer: str, product: str, amount: int, start: str, day: str) -> dict:
    obj = subscription(sub, customer, plan(product, amount), start=start)
    return event(f"evt_{sub}_{day}", "customer.subscription.updated", obj, ts(day))


def ended(sub: str, customer: str, product: str, amount: int, start: str, day: str) -> dict:
    obj = subscription(sub, customer, plan(product, amount), start=start, status="canceled", ended_at=ts(day))
    return event(f"evt_{sub}_deleted", "customer.subscription.deleted", obj, ts(day))


SCENARIO = [
    created("sub_e", "cus_e", "legacy", 1900, "2025-05-05"),
    ended("sub_e", "cus_e", "legacy", 1900, "2025-05-05", "2025-06-10"),
    created("sub_a", "cus_a", "pro", 2900, "2025-07-10"),
    created("sub_b", "cus_b", "business", 9900, "2025-07-20"),
    created("sub_c", "cus_c", "starter", 900, "2025-08-15"),
    ended("sub_c", "cus_c", "starter", 900, "2025-08-15", "2026-01-20"),
    created("sub_d", "cus_d", "pro", 2900, "2026-01-25"),
    changed("sub_a", "cus_a", "business", 9900, "2025-07-10", "2026-02-10"),
    changed("sub_b", "cus_b", "pro", 2900, "2025-07-20", "2026-03-05"),
    created("sub_c2", "cus_c", "pro", 2900, "2026-03-12"),
]


@pytest.fixture
def scenario(cli, workspace, monkeypatch):
    write_config(workspace, PLANS)
    apply_all(workspace, SCENARIO)
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    return cli


def run_json(cli, *args: str) -> dict:
    result = cli(*args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


# Per month: start MRR (the end of the month before), then the fields. None: no start MRR (NRR, GRR, churn rates)
# or nothing lost (quick ratio).
QUIET = (18600, 4, 0, 0, 1.0, 1.0, 0.0, 0.0, None)  # April to July 2026: 18600 / 18600, nothing gained or lost
EXPECTED = {
    #          (start, customers, new_customers, churned_customers, nrr, grr, mrr_churn_rate, net_mrr_churn_rate,
    #           quick_ratio)
    # May 2025: nothing before; E new 1900; quick ratio 1900 / 0: nothing lost
    "2025-05": (0, 1, 1, 0, None, None, None, None, None),
    # June: E churns: nrr = grr = (1900 - 1900) / 1900 = 0; churn rates 1900 / 1900 = 1; quick 0 / 1900 = 0
    "2025-06": (1900, 0, 0, 1, 0.0, 0.0, 1.0, 1.0, 0.0),
    # July: the zero-MRR start: every ratio on start MRR is null; 12800 gained, nothing lost
    "2025-07": (0, 2, 2, 0, None, None, None, None, None),
    # August: C new 900; 12800 / 12800 retained, nothing lost
    "2025-08": (12800, 3, 1, 0, 1.0, 1.0, 0.0, 0.0, None),
    "2025-09": (13700, 3, 0, 0, 1.0, 1.0, 0.0, 0.0, None),
    "2025-10": (13700, 3, 0, 0, 1.0, 1.0, 0.0, 0.0, None),
    "2025-11": (13700, 3, 0, 0, 1.0, 1.0, 0.0, 0.0, None),
    "2025-12": (13700, 3, 0, 0, 1.0, 1.0, 0.0, 0.0, None),
    # January: C churns -900, D new 2900: nrr = grr = (13700 - 900) / 13700 = 0.93431; churn rates 900 / 13700
    # = 0.06569; quick ratio 2900 / 900 = 3.22222
    "2026-01": (13700, 3, 1, 1, 0.9343, 0.9343, 0.0657, 0.0657, 3.2222),
    # February: A +7000: nrr = (15700 + 7000) / 15700 = 1.44586; grr = 15700 / 15700 = 1; net MRR churn
    # -7000 / 15700 = -0.44586 (negative: gains beat losses); nothing lost
    "2026-02": (15700, 3, 0, 0, 1.4459, 1.0, 0.0, -0.4459, None),
    # March: B -7000, C back +2900: nrr = grr = (22700 - 7000) / 22700 = 0.69163 (reactivation is not retention);
    # MRR churn 7000 / 22700 = 0.30837; net (7000 - 2900) / 22700 = 0.18062; quick 2900 / 7000 = 0.41429
    "2026-03": (22700, 4, 0, 0, 0.6916, 0.6916, 0.3084, 0.1806, 0.4143),
    "2026-04": QUIET,
    "2026-05": QUIET,
    "2026-06": QUIET,
    "2026-07": QUIET,
}
FIELDS = ("customers", "new_customers", "churned_customers", "nrr", "grr", "mrr_churn_rate", "net_mrr_churn_rate")


def test_every_retention_field_of_every_month_matches_the_hand_computed_values(scenario):
    report = run_json(scenario, "payments", "report", "--months", "15")
    months = {m["month"]: m for m in report["months"]}
    assert list(months) == list(EXPECTED)
    previous_mrr = 0
    for month, (start, *values) in EXPECTED.items():
        row = months[month]
        assert previous_mrr == start, month  # the start MRR is the month before's end
        assert tuple(row[f] for f in (*FIELDS, "quick_ratio")) == tuple(values), month
        assert row["customers"] == row["paying_customers"]
        previous_mrr = row["mrr"]
    assert [months[m]["mrr"] for m in ("2026-01", "2026-02", "2026-03", "2026-07")] == [15700, 22700, 18600, 18600]


def test_trailing_twelve_months_by_the_cohort_method(scenario):
    report = run_json(scenario, "payments", "report")
    # The base: who paid at the end of July 2025, twelve months before July 2026: A 2900 and B 9900 (C, D and the
    # reactivation come later and are not in it). Now A pays 9900 and B 2900.
    # NRR = (9900 + 2900) / (2900 + 9900) = 1.0
    # GRR counts each at most at what they paid then: (min(9900, 2900) + min(2900, 9900)) / 12800 = 0.453125
    assert (report["nrr_ttm"], report["grr_ttm"]) == (1.0, 0.4531)
    # however few months are shown: the base is found in the whole history
    assert run_json(scenario, "payments", "report", "--months", "1")["grr_ttm"] == 0.4531


def test_a_report_with_less_than_a_year_of_history_has_no_trailing_figures(cli, workspace, monkeypatch):
    write_config(workspace, PLANS)
    apply_all(workspace, SCENARIO[:5])
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-15T12:00:00Z")  # base: the end of March 2025, before anyone paid
    report = run_json(cli, "payments", "report")
    assert (report["nrr_ttm"], report["grr_ttm"]) == (None, None)


def test_the_table_shows_rates_as_percentages_and_csv_states_its_units(scenario):
    # at 80 columns the rarer rates give way (the note says which); --columns shows the ones asked for
    wide = scenario("payments", "report", "--months", "5")
    assert wide.code == 0, wide.err
    assert "trailing 12 months: NRR 100.0 %, GRR 45.3 %" in wide.out
    for columns, shown in (
        ("month,mrr,nrr,mrr_churn_rate,quick_ratio", ("€186.00", "69.2 %", "30.8 %", "0.41")),
        ("month,net_mrr_churn_rate", ("18.1 %",)),
    ):
        table = scenario("payments", "report", "--months", "5", "--columns", columns)
        assert table.code == 0, table.err
        march = next(line for line in table.out.splitlines() if line.startswith("2026-03"))
        assert all(value in march for value in shown), (march, shown)
    csv = scenario("payments", "report", "--months", "5", "--format", "csv").out.splitlines()
    header = csv[0].split(",")
    assert header[:3] == ["month", "mrr (EUR minor units)", "new (EUR minor units)"]
    assert header[-7:] == [
        "customers",
        "new_customers",
        "nrr",
        "grr",
        "mrr_churn_rate",
        "net_mrr_churn_rate",
        "quick_ratio",
    ]
    march = dict(zip(header, csv[1].split(","), strict=True))
    assert (march["mrr (EUR minor units)"], march["nrr"], march["quick_ratio"]) == ("18600", "0.6916", "0.4143")
    july = dict(zip(header, csv[-1].split(","), strict=True))
    assert july["quick_ratio"] == ""  # null: nothing lost


def test_cohorts_by_month_of_first_payment(scenario):
    report = run_json(scenario, "payments", "cohorts")
    assert (report["metric"], report["as_of"]) == ("customers", NOW)
    cohorts = {c["cohort"]: c for c in report["cohorts"]}
    # E first paid in May 2025, A and B in July, C in August, D in January 2026: four cohorts
    assert list(cohorts) == ["2025-05", "2025-07", "2025-08", "2026-01"]
    assert [(c["customers"], c["mrr"]) for c in cohorts.values()] == [(1, 1900), (2, 12800), (1, 900), (1, 2900)]

    def values(cohort: str) -> list:
        return [cell["value"] for cell in cohorts[cohort]["months"]]

    def percents(cohort: str) -> list:
        return [cell["percent"] for cell in cohorts[cohort]["months"]]

    # May 2025 to July 2026 is 15 months: E left in June and never came back
    assert values("2025-05") == [1] + [0] * 14 and percents("2025-05") == [1.0] + [0.0] * 14
    # A and B both still pay, 13 months on
    assert values("2025-07") == [2] * 13
    # C: paying at the ends of Aug to Dec (months 0-4), gone at the ends of Jan and Feb, back from March:
    # a returning customer counts again in their first cohort
    assert values("2025-08") == [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
    assert cohorts["2025-08"]["months"][7] == {"months_since": 7, "month": "2026-03", "value": 1, "percent": 1.0}
    assert values("2026-01") == [1] * 7

    mrr = {c["cohort"]: c for c in run_json(scenario, "payments", "cohorts", "--metric", "mrr")["cohorts"]}
    # July's cohort: A 2900 + B 9900 = 12800 until January; February A 9900 + B 9900 = 19800 (19800 / 12800 =
    # 1.546875); from March A 9900 + B 2900 = 12800 again
    assert [cell["value"] for cell in mrr["2025-07"]["months"]] == [12800] * 7 + [19800] + [12800] * 5
    assert [cell["percent"] for cell in mrr["2025-07"]["months"]] == [1.0] * 7 + [1.5469] + [1.0] * 5
    # C: 900 for five month ends, nothing for two, then 2900 on pro: 2900 / 900 = 3.2222
    assert [cell["value"] for cell in mrr["2025-08"]["months"]] == [900] * 5 + [0, 0] + [2900] * 5
    assert [cell["percent"] for cell in mrr["2025-08"]["months"]][-1] == 3.2222


def test_cohorts_of_a_four_month_window(scenario):
    # --since and --until (a day: its month's cohorts from the first, up to the day before --until) pick the cohorts
    # of May to August 2025: June has no cohort (nobody first paid in June)
    report = run_json(scenario, "payments", "cohorts", "--since", "2025-05-01", "--until", "2025-09-01")
    assert [c["cohort"] for c in report["cohorts"]] == ["2025-05", "2025-07", "2025-08"]
    csv = scenario("payments", "cohorts", "--metric", "mrr", "--since", "2025-08-01", "--until", "2025-09-01")
    assert csv.code == 0
    rows = scenario(
        "payments", "cohorts", "--metric", "mrr", "--since", "2025-08-01", "--until", "2025-09-01", "--format", "csv"
    ).out.splitlines()
    assert rows[0] == "cohort,months_since,month,mrr (EUR minor units),percent"
    assert rows[1:3] == ["2025-08,0,2025-08,900,1.0", "2025-08,1,2025-09,900,1.0"]
    assert rows[6:9] == ["2025-08,5,2026-01,0,0.0", "2025-08,6,2026-02,0,0.0", "2025-08,7,2026-03,2900,3.2222"]
    table = scenario("payments", "cohorts", "--since", "2025-08-01", "--until", "2025-09-01")
    assert "2025-08" in table.out and "100.0 %" in table.out and "0.0 %" in table.out
    assert scenario("payments", "cohorts", "--since", "last year").code == 2


def test_by_plan_uses_the_plans_of_arkops_toml_and_other_for_the_rest(scenario):
    report = run_json(scenario, "payments", "report", "--by", "plan", "--months", "15")
    segments = {s["segment"]: s for s in report["segments"]}
    assert list(segments) == ["starter", "pro", "business", "other"]  # the config's order, then "other"
    now = {key: (s["mrr"], s["customers"], s["arpu"]) for key, s in segments.items()}
    # July 2026: pro is B 2900 + C 2900 + D 2900; business is A 9900; starter and legacy left
    assert now == {"starter": (0, 0, 0), "pro": (8700, 3, 2900), "business": (9900, 1, 9900), "other": (0, 0, 0)}
    assert segments["pro"]["name"] == "pro" and segments["other"]["name"] == "other"

    def month(key: str, name: str) -> tuple:
        row = next(m for m in segments[key]["months"] if m["month"] == name)
        return row["new"], row["expansion"], row["contraction"], row["churn"], row["reactivation"]

    # E's legacy price is in no plan: new in May, churn in June
    assert (month("other", "2025-05"), month("other", "2025-06")) == ((1900, 0, 0, 0, 0), (0, 0, 0, -1900, 0))
    # January: C leaves starter entirely (churn), D is new on pro
    assert (month("starter", "2026-01"), month("pro", "2026-01")) == ((0, 0, 0, -900, 0), (2900, 0, 0, 0, 0))
    # February, A's upgrade: 2900 leaves pro (contraction: A still pays), 9900 comes to business (expansion)
    assert (month("pro", "2026-02"), month("business", "2026-02")) == ((0, 0, -2900, 0, 0), (0, 9900, 0, 0, 0))
    # March: B moves from business to pro, C comes back on pro: -9900 + 2900 = the report's contraction -7000
    assert month("business", "2026-03") == (0, 0, -9900, 0, 0)
    assert month("pro", "2026-03") == (0, 2900, 0, 0, 2900)
    csv = scenario("payments", "report", "--by", "plan", "--months", "1", "--format", "csv").out.splitlines()
    assert csv[0].startswith("segment,name,month,mrr (EUR minor units),customers,arpu (EUR minor units),")
    assert csv[2] == "pro,pro,2026-07,8700,3,2900,0,0,0,0,0,EUR"


def test_by_currency_keeps_each_currency_its_own(cli, workspace, monkeypatch):
    write_config(workspace, "[fx]\nUSD = 0.5\n")
    apply_all(
        workspace,
        [
            created("sub_a", "cus_a", "pro", 2900, "2026-02-01"),
            event(
                "evt_usd",
                "customer.subscription.created",
                subscription("sub_u", "cus_u", [(1000, "usd", "month", 1, 1, "pro")], start="2026-02-10"),
                ts("2026-02-10"),
            ),
            event(
                "evt_in_a", "invoice.paid", invoice("in_a", "cus_a", 2900, paid_at=ts("2026-03-01")), ts("2026-03-01")
            ),
            event(
                "evt_in_u",
                "invoice.paid",
                invoice("in_u", "cus_u", 1000, currency="usd", paid_at=ts("2026-03-02")),
                ts("2026-03-02"),
            ),
        ],
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-15T00:00:00Z")
    report = run_json(cli, "payments", "report", "--by", "currency", "--months", "2")
    segments = {s["segment"]: s for s in report["segments"]}
    assert list(segments) == ["EUR", "USD"]  # the configured currency first
    assert (segments["USD"]["mrr"], segments["USD"]["currency"]) == (1000, "USD")  # not converted: 1000 US cents
    assert [(m["month"], m["new"], m["revenue"]) for m in segments["USD"]["months"]] == [
        ("2026-02", 1000, 0),
        ("2026-03", 0, 1000),
    ]
    assert segments["EUR"]["months"][-1]["revenue"] == 2900
    # the report in EUR converts: 2900 + 1000 x 0.5 = 3400
    assert run_json(cli, "payments", "report")["mrr"] == 3400
    csv = cli("payments", "report", "--by", "currency", "--format", "csv").out.splitlines()
    assert "mrr (minor units of currency)" in csv[0] and csv[0].endswith(",currency")
    both = cli("payments", "report", "--by", "currency", "--currency", "USD")
    assert both.code == 2 and "--currency does not go with --by currency" in both.err


def test_the_weekly_email_gives_nrr_and_the_quick_ratio_of_the_weeks_month(cli, workspace, monkeypatch):
    write_config(workspace, PLANS)
    apply_all(workspace, SCENARIO)
    # Monday 16 March 2026: the week reported is 9 to 15 March, in March, whose figures are final by then:
    # NRR (22700 - 7000) / 22700 = 69.2 %, quick ratio 2900 / 7000 = 0.41
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-16T09:00:00Z")
    assert cli("--dry-run", "run", "--only", "weekly-email").code == 0
    (eml,) = (workspace / "data" / "outbox").glob("*weekly_report.eml")
    mail = parts(eml)
    assert "NRR 2026-03: 69.2 %" in mail["text/plain"] and "Quick ratio 2026-03: 0.41" in mail["text/plain"]
    assert "2026-03: NRR 69.2 %, quick ratio 0.41.</p>" in mail["text/html"]
