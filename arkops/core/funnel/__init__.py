"""Funnel: visitors -> demo -> trial -> active -> paid, by week or source, rate rules and the no-data alarm.

`stages` gathers the people of each stage in a window (visits and demo
requests through `arkops.core.leads.query`, trials through the trials
domain, conversions from the billing ledger as trials see them) and builds
`funnel report`; `wilson` the 95 % interval; `rules` the daily
`funnel check` and its alerts; `checks` the doctor check.
"""

from arkops.core.domain import Database, DemoPart, DoctorCheck, Domain, Job, SectionPart

# rules: each rule's failing/recovered state; alarms: the no-visits alarm. Rule ids, days and times: nobody in it.
FUNNEL_DB = Database("funnel", version=1, personal={"rules": (), "alarms": ()})

DOMAIN = Domain(
    name="funnel",
    summary="Funnel: conversion by week and source, conversion-rate alerts and the no-data alarm.",
    commands={"funnel": "arkops.cli.funnel:app"},
    # rules: each rule's failure episode (when it began, the day last alerted); alarms: the silence alerted.
    databases=(FUNNEL_DB,),
    jobs=(
        Job(
            "funnel-check",
            "check the conversion-rate rules and that visits still arrive",
            "arkops.core.funnel.rules:check",
            daily_at="09:00",
            order=40,
        ),
    ),
    checks=(DoctorCheck("arkops.core.funnel.checks:rules", order=46),),
    demo=DemoPart("arkops.core.funnel.demo:build", order=40),
    templates="arkops.core.funnel.messages:TEMPLATES",
    status=SectionPart("arkops.core.funnel.sections:status", order=35),
    report=SectionPart("arkops.core.funnel.sections:report", order=35),
    order=67,
    audited=("funnel check",),
    config="arkops.core.funnel.settings:CONFIG",
)
