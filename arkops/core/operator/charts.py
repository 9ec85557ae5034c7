"""A chart's drawing for the HTML report: the geometry of its SVG, its legend and its data as a table.

Only numbers and words here; the markup is the `chart` macro of
`templates/_sections.html`. Coordinates are strings with one decimal, so
the page is the same bytes for the same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from arkops.core.sections import Chart, Formats, Table, table

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 84, 30, 12, 28
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
LABEL_CHARS = 12  # an x-axis label longer than this is cut (the data table has it whole)
X_LABELS = 8  # at most about this many labels on the x axis
# A label's size in the viewBox's units at the largest font the stylesheet gives (18px, on a phone): how wide
# a character is at most on average, and how far apart two labels turned by 45° must stand not to touch.
CHAR_WIDTH = 11.0
TICK_GAP = 8.0
TURNED_PITCH = 32.0
TURNED = -45
PALETTE = 6  # series colours, .s0 to .s5, set for light and dark in the report's stylesheet


def coordinate(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Gridline:
    y: str
    label_y: str
    label: str


@dataclass(frozen=True)
class Tick:
    x: str
    label: str


@dataclass(frozen=True)
class Bar:
    css: str
    x: str
    y: str
    width: str
    height: str


@dataclass(frozen=True)
class Polyline:
    css: str
    points: str


@dataclass(frozen=True)
class Area:
    css: str
    points: str  # the polygon: along the top of the band left to right, then its bottom right to left


@dataclass(frozen=True)
class Swatch:
    css: str
    name: str


@dataclass(frozen=True)
class Plot:
    """What the SVG draws, in the coordinates of its viewBox."""

    gridlines: list[Gridline]
    zero: str
    ticks: list[Tick]
    bars: list[Bar]
    lines: list[Polyline]
    areas: list[Area] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    axis_x: int = LEFT - 6  # where the y axis' labels end
    tick_y: int = HEIGHT - 8
    tick_angle: int = 0  # the x labels' rotation: 0, or -45 when side by side they would overlap


@dataclass(frozen=True)
class Drawing:
    plot: Plot
    legend: list[Swatch]  # empty for a single series
    data: Table  # every point, as people read it


def nice_step(raw: float, unit: float) -> float:
    """A gridline step of 1, 2, 2.5 or 5 times a power of ten (in whole `unit`s: cents make whole euros)."""
    raw = max(raw / unit, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw) * unit


def bar_series(chart: Chart) -> list[str]:
    return [] if chart.kind in ("line", "area") else [name for name in chart.series if name != chart.line]


def area_series(chart: Chart) -> list[str]:
    return [name for name in chart.series if name != chart.line] if chart.kind == "area" else []


def line_series(chart: Chart) -> list[str]:
    if chart.line and chart.kind != "bars":
        return [chart.line]
    return [] if bar_series(chart) or area_series(chart) else list(chart.series)


def plotted_values(chart: Chart) -> list[float]:
    """Every value the y axis must reach: each point, or for stacked bars and areas each column's totals above
    and below zero."""
    if chart.kind not in ("stacked", "area"):
        return [v for series in chart.series.values() for v in series]
    stacked = bar_series(chart) or area_series(chart)
    ups = [sum(max(chart.series[n][i], 0) for n in stacked) for i in range(len(chart.labels))]
    downs = [sum(min(chart.series[n][i], 0) for n in stacked) for i in range(len(chart.labels))]
    return ups + downs + (chart.series[chart.line] if chart.line else [])


@dataclass(frozen=True)
class Frame:
    """The value range the y axis covers (from zero) with its gridline step, and the width of one label's column."""

    low: float
    high: float
    grid: float
    step: float

    @classmethod
    def of(cls, chart: Chart) -> Frame:
        values = plotted_values(chart)
        low, high = min([0.0, *values]), max([0.0, *values])
        if chart.unit == "percent":
            grid = max(high - low, 0.01) / 4
        else:
            grid = nice_step((high - low) / 4, 100 if chart.unit == "money" else 1)
        bottom = math.floor(low / grid) * grid
        top = max(math.ceil(high / grid), math.floor(low / grid) + 1) * grid
        return cls(bottom, top, grid, PLOT_WIDTH / max(len(chart.labels), 1))

    def y(self, value: float) -> float:
        return TOP + PLOT_HEIGHT * (self.high - value) / (self.high - self.low)

    def middle(self, index: int) -> float:
        return LEFT + self.step * (index + 0.5)


def gridlines(frame: Frame, chart: Chart, fmt: Formats) -> list[Gridline]:
    lines = []
    for i in range(round((frame.high - frame.low) / frame.grid) + 1):
        value = frame.low + frame.grid * i
        y = frame.y(value)
        lines.append(Gridline(coordinate(y), coordinate(y + 4), fmt.axis(value, chart.unit)))
    return lines


def ticks(frame: Frame, labels: list[str]) -> tuple[list[Tick], int]:
    """The x axis' labels and their angle (0, or turned by 45°), so that no two overlap.

    Every label, or every n-th counted back from the last (which is always named), cut when long. Labels
    that are too wide for their column side by side are turned; turned labels stand at least a line apart,
    fewer of them when the columns are narrow.
    """
    shown = [label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…" for label in labels]
    count = max(len(labels), 1)
    every = max(1, -(-count // X_LABELS))
    widest = max((len(label) for label in shown), default=0) * CHAR_WIDTH
    angle = 0 if widest + TICK_GAP <= frame.step * every else TURNED
    if angle:
        every = max(every, math.ceil(TURNED_PITCH / frame.step))
    chosen = [Tick(coordinate(frame.middle(i)), label) for i, label in enumerate(shown) if (count - 1 - i) % every == 0]
    return chosen, angle


def label_room(labels: list[Tick], angle: int) -> int:
    """The height below the plot that the labels need: a line, or the reach of the longest turned label."""
    if not angle:
        return BOTTOM
    return BOTTOM + math.ceil(max((len(t.label) for t in labels), default=0) * CHAR_WIDTH * math.sin(math.pi / 4))


def colour(chart: Chart, name: str) -> str:
    return f"s{list(chart.series).index(name) % PALETTE}"


def bar(frame: Frame, css: str, x: float, width: float, top: float, height: float) -> Bar:
    return Bar(css, coordinate(x), coordinate(frame.y(top)), coordinate(width), coordinate(height))


def stacked_bars(frame: Frame, chart: Chart) -> list[Bar]:
    """Positive values stacked upwards from zero, negative ones downwards, in the order of the series."""
    bars = []
    for i in range(len(chart.labels)):
        x0 = LEFT + frame.step * i + frame.step * 0.15
        up = down = 0.0
        for name in bar_series(chart):
            value = chart.series[name][i]
            if not value:
                continue
            base = up if value > 0 else down
            top, bottom = (base + value, base) if value > 0 else (base, base + value)
            if value > 0:
                up += value
            else:
                down += value
            height = max(frame.y(bottom) - frame.y(top), 0.5)
            bars.append(bar(frame, colour(chart, name), x0, frame.step * 0.7, top, height))
    return bars


def side_by_side_bars(frame: Frame, chart: Chart) -> list[Bar]:
    """One bar per series within each label's column; a zero is drawn flat, a tiny value at least half a pixel."""
    names = bar_series(chart)
    bars = []
    for i in range(len(chart.labels) if names else 0):
        x0 = LEFT + frame.step * i + frame.step * 0.15
        each = frame.step * 0.7 / len(names)
        for k, name in enumerate(names):
            value = chart.series[name][i]
            top, bottom = max(value, 0), min(value, 0)
            height = max(frame.y(bottom) - frame.y(top), 0.5 if value else 0)
            bars.append(bar(frame, colour(chart, name), x0 + k * each, each * 0.9, top, height))
    return bars


def stacked_areas(frame: Frame, chart: Chart) -> list[Area]:
    """Each series a band over the ones before it, from zero up, through the middle of each label's column."""
    below = [0.0] * len(chart.labels)
    areas = []
    for name in area_series(chart):
        above = [low + max(value, 0.0) for low, value in zip(below, chart.series[name], strict=True)]
        top = [f"{coordinate(frame.middle(i))},{coordinate(frame.y(v))}" for i, v in enumerate(above)]
        bottom = [f"{coordinate(frame.middle(i))},{coordinate(frame.y(v))}" for i, v in enumerate(below)]
        areas.append(Area(colour(chart, name), " ".join(top + bottom[::-1])))
        below = above
    return areas


def polylines(frame: Frame, chart: Chart) -> list[Polyline]:
    def points(values: list[float]) -> str:
        return " ".join(f"{coordinate(frame.middle(i))},{coordinate(frame.y(v))}" for i, v in enumerate(values))

    return [Polyline(colour(chart, name), points(chart.series[name])) for name in line_series(chart)]


def plot(chart: Chart, fmt: Formats) -> Plot:
    """Axes and gridlines, bars (side by side or stacked) or stacked areas, and an optional line."""
    frame = Frame.of(chart)
    bars = stacked_bars(frame, chart) if chart.kind == "stacked" else side_by_side_bars(frame, chart)
    labels, angle = ticks(frame, chart.labels)
    height = TOP + PLOT_HEIGHT + label_room(labels, angle)
    return Plot(
        gridlines=gridlines(frame, chart, fmt),
        zero=coordinate(frame.y(0)),
        ticks=labels,
        bars=bars,
        lines=polylines(frame, chart),
        areas=stacked_areas(frame, chart),
        height=height,
        tick_y=TOP + PLOT_HEIGHT + 16 if angle else height - 8,
        tick_angle=angle,
    )


def series_name(name: str) -> str:
    return name.replace("_", " ")


def data_table(chart: Chart, fmt: Formats) -> Table:
    """The chart's points as a table: one row per label, one column per series."""

    def show(value: float) -> str:
        if chart.unit == "money":
            return fmt.money(value)
        return fmt.percent(value) if chart.unit == "percent" else fmt.number(value)

    # The labels' column has no name and no header, so that no series' name can clash with it.
    columns = [("", ""), *((name, series_name(name)) for name in chart.series)]
    rows = [
        {"": label, **{name: values[i] for name, values in chart.series.items()}}
        for i, label in enumerate(chart.labels)
    ]
    return table(f"{chart.key}-data", f'Data of "{chart.title}"', columns, rows, dict.fromkeys(chart.series, show))


def draw(chart: Chart, fmt: Formats) -> Drawing:
    names = list(chart.series)
    legend = [Swatch(colour(chart, name), series_name(name)) for name in names] if len(names) > 1 else []
    return Drawing(plot(chart, fmt), legend, data_table(chart, fmt))
