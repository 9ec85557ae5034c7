"""The workspace: `init` (config, .env.example, data directory), `doctor`, the `demo` and shell `completion`.

`init` writes the config template generated from `arkops.config.schema()`;
`checks` holds the workspace's own doctor checks; the demo and its registry
of parts live in `arkops.core.demo`.
"""

from arkops.core.domain import DoctorCheck, Domain

DOMAIN = Domain(
    name="workspace",
    summary="Setting up and checking an installation, and the demo.",
    commands={
        "init": "arkops.cli.setup:init",
        "doctor": "arkops.cli.doctor:doctor",
        "demo": "arkops.cli.demo:demo",
        "completion": "arkops.cli.setup:completion",
    },
    checks=(
        DoctorCheck("arkops.core.workspace.checks:data_dir", order=50),
        DoctorCheck("arkops.core.workspace.checks:data_files", order=60),
        DoctorCheck("arkops.core.workspace.checks:crontab", order=99),
    ),
    order=10,
    audited=("init",),
)
