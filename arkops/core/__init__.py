"""Domain logic: no Typer, no Rich, no printing. Functions take `now` where time matters."""
