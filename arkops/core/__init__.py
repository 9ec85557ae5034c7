"""Domain logic: no Typer, no Rich, no printing. Functions take `now` where time matters.

Importing `arkops.core` reads every domain's declaration (`registry`) and
tells the store their databases and the configuration their keys, so no code
path can open a database whose schema is not known or read a key nobody declared.
"""

from arkops.core.registry import register_config, register_databases

register_databases()
register_config()
