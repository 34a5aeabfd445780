"""The dashboard's charts as SVG written on the server: a bar chart, a heat map and a trend.

Every element that stands for submissions is an SVG link (keyboard-focusable) to the list of
those submissions, with an accessible name that says what it counts; each chart has a title and
a description, and the page shows the same numbers in tables. Planned misconceptions and
implementation mistakes differ in colour *and* pattern (and the labels say which is which).
Colours and sizes live here as SVG attributes, so the pages need no inline styles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from math import ceil, log10

from markupsafe import Markup, escape

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
PLANNED_COLOUR = "#1d5fa3"  # 6.5:1 on white
IMPL_COLOUR = "#9c4a12"  # 6.6:1 on white
TEXT_COLOUR = "#1b1f24"
MUTED_COLOUR = "#4b5563"
GRID_COLOUR = "#d0d5dc"
# Sequential blues for the heat map (light to dark); text turns white from index 3 on.
HEAT_SCALE = ("#eef3fa", "#c6dbef", "#9ecae1", "#4a8fc7", "#1f5f9f", "#0b3a6e")
WHITE_TEXT_FROM = 3
# Okabe-Ito-like colours darkened to at least 3:1 against white, for the trend's lines.
SERIES_COLOURS = ("#0a6aa6", "#b34700", "#007556", "#a23b77", "#5b4a9b", "#6b6b00")
SERIES_DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")


def _attrs(attributes: dict[str, object]) -> str:
    parts = []
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        parts.append(f' {name}="{escape(str(value))}"')
    return "".join(parts)


def tag(name: str, *children: str, **attributes: object) -> str:
    """An SVG element; `children` are already-escaped markup (use `text_node` for text)."""
    inner = "".join(children)
    if not inner:
        return f"<{name}{_attrs(attributes)}/>"
    return f"<{name}{_attrs(attributes)}>{inner}</{name}>"


def text_node(text: str) -> str:
    return str(escape(text))


def _shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _svg(
    chart_id: str, title: str, description: str, width: float, height: float, body: list[str], css_class: str
) -> Markup:
    """The outer <svg>: a group (it contains links) named by its <title> and <desc>."""
    return Markup(
        tag(
            "svg",
            tag("title", text_node(title), id=f"{chart_id}-title"),
            tag("desc", text_node(description), id=f"{chart_id}-desc"),
            *body,
            xmlns="http://www.w3.org/2000/svg",
            id=chart_id,
            class_=css_class,
            viewBox=f"0 0 {width:g} {height:g}",
            width=f"{width:g}",
            height=f"{height:g}",
            role="group",
            aria_labelledby=f"{chart_id}-title",
            aria_describedby=f"{chart_id}-desc",
            font_family=FONT,
        )
    )


def _hatch(pattern_id: str, colour: str) -> str:
    """Diagonal stripes over the colour: implementation mistakes are told apart without colour."""
    return tag(
        "pattern",
        tag("rect", width=8, height=8, fill=colour),
        tag("path", d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4", stroke="#ffffff", stroke_width=2, stroke_opacity=0.55),
        id=pattern_id,
        patternUnits="userSpaceOnUse",
        width=8,
        height=8,
    )


# --- bar chart -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    planned: bool
    href: str
    detail: str  # e.g. "3 of 12 students, 4 submissions"


BAR_WIDTH = 400
BAR_ROW = 42
BAR_HEADING = 30
BAR_VALUE_SPACE = 40
PAD = 8


def bar_chart(bars: list[Bar], *, chart_id: str, title: str, unit: str = "students") -> Markup:
    """Horizontal bars, planned misconceptions first, then implementation mistakes; each row
    (label, bar, count) is one link."""
    groups = [
        ("Planned misconceptions (from the lesson plans)", [bar for bar in bars if bar.planned]),
        ("Implementation mistakes (impl.*)", [bar for bar in bars if not bar.planned]),
    ]
    longest = max((bar.value for bar in bars), default=0) or 1
    usable = BAR_WIDTH - 2 * PAD - BAR_VALUE_SPACE
    pattern_id = f"{chart_id}-hatch"
    body = [tag("defs", _hatch(pattern_id, IMPL_COLOUR))]
    y = PAD
    for heading, members in groups:
        if not members:
            continue
        body.append(tag("text", text_node(heading), x=PAD, y=y + 18, font_size=14, font_weight=600, fill=TEXT_COLOUR))
        y += BAR_HEADING
        for bar in members:
            body.append(_bar_row(bar, y, usable * bar.value / longest, pattern_id, unit))
            y += BAR_ROW
    description = "; ".join(f"{bar.label}: {bar.value} {unit}" for bar in bars) or "no data"
    return _svg(chart_id, title, description, BAR_WIDTH, y + PAD, body, "chart chart-bars")


def _bar_row(bar: Bar, y: float, length: float, pattern_id: str, unit: str) -> str:
    kind = "planned" if bar.planned else "implementation mistake"
    name = f"{bar.label}, {kind}: {bar.value} {unit} ({bar.detail}). Show these submissions"
    fill = PLANNED_COLOUR if bar.planned else f"url(#{pattern_id})"
    return tag(
        "a",
        tag("title", text_node(name)),
        tag("rect", class_="hit", x=0, y=y, width=BAR_WIDTH, height=BAR_ROW - 2, fill="transparent"),
        tag("text", text_node(_shorten(bar.label, 46)), x=PAD, y=y + 14, font_size=14, fill=TEXT_COLOUR),
        tag(
            "rect",
            class_="bar " + ("bar-planned" if bar.planned else "bar-impl"),
            x=PAD,
            y=y + 19,
            width=f"{max(length, 2):.1f}",
            height=16,
            rx=2,
            fill=fill,
            stroke=None if bar.planned else IMPL_COLOUR,
        ),
        tag(
            "text",
            text_node(str(bar.value)),
            x=f"{PAD + max(length, 2) + 6:.1f}",
            y=y + 32,
            font_size=14,
            font_weight=600,
            fill=TEXT_COLOUR,
        ),
        href=bar.href,
        aria_label=name,
        class_="chart-link",
    )


# --- heat map ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatRow:
    label: str
    planned: bool
    values: tuple[int, ...]  # one per column
    hrefs: tuple[str | None, ...]  # None where the value is 0 (nothing to show)


HEAT_LABEL_WIDTH = 270
HEAT_CELL_WIDTH = 128
HEAT_CELL_HEIGHT = 34
HEAT_HEADER = 40


def heat_level(value: int, highest: int) -> int:
    """0 for none, else 1..5 by the share of the highest value."""
    if value <= 0 or highest <= 0:
        return 0
    return max(1, ceil(5 * value / highest))


def heat_map(rows: list[HeatRow], columns: list[str], *, chart_id: str, title: str, unit: str = "students") -> Markup:
    """Rows of misconceptions, columns of assignments; the darker, the more students. Each
    count is printed in its cell; each non-zero cell links to its submissions."""
    highest = max((value for row in rows for value in row.values), default=0)
    width = HEAT_LABEL_WIDTH + HEAT_CELL_WIDTH * len(columns) + PAD
    body = []
    for index, column in enumerate(columns):
        x = HEAT_LABEL_WIDTH + index * HEAT_CELL_WIDTH + HEAT_CELL_WIDTH / 2
        body.append(
            tag(
                "text",
                text_node(_shorten(column, 17)),
                x=x,
                y=HEAT_HEADER - 12,
                font_size=13,
                font_weight=600,
                text_anchor="middle",
                fill=TEXT_COLOUR,
            )
        )
    for row_index, row in enumerate(rows):
        y = HEAT_HEADER + row_index * HEAT_CELL_HEIGHT
        label = ("" if row.planned else "◇ ") + _shorten(row.label, 36)
        body.append(
            tag(
                "text",
                text_node(label),
                x=HEAT_LABEL_WIDTH - 8,
                y=y + 22,
                font_size=13,
                text_anchor="end",
                fill=TEXT_COLOUR if row.planned else IMPL_COLOUR,
                font_style=None if row.planned else "italic",
            )
        )
        for column_index, (value, href) in enumerate(zip(row.values, row.hrefs)):
            body.append(
                _heat_cell(
                    row,
                    columns[column_index],
                    value,
                    href,
                    highest,
                    HEAT_LABEL_WIDTH + column_index * HEAT_CELL_WIDTH,
                    y,
                    unit,
                )
            )
    height = HEAT_HEADER + len(rows) * HEAT_CELL_HEIGHT + PAD
    description = (
        f"{len(rows)} misconceptions by {len(columns)} assignments; the number in each cell "
        f"counts {unit}; implementation mistakes are marked ◇ and set in italics"
    )
    return _svg(chart_id, title, description, width, height, body, "chart chart-heat")


def _heat_cell(
    row: HeatRow, column: str, value: int, href: str | None, highest: int, x: float, y: float, unit: str
) -> str:
    level = heat_level(value, highest)
    cell = tag(
        "rect",
        class_="cell",
        x=x + 1,
        y=y + 1,
        width=HEAT_CELL_WIDTH - 2,
        height=HEAT_CELL_HEIGHT - 2,
        fill=HEAT_SCALE[level],
        stroke=GRID_COLOUR if level == 0 else None,
    )
    number = tag(
        "text",
        text_node(str(value)),
        x=x + HEAT_CELL_WIDTH / 2,
        y=y + 22,
        font_size=14,
        text_anchor="middle",
        fill="#ffffff" if level >= WHITE_TEXT_FROM else TEXT_COLOUR,
        font_weight=600 if value else None,
    )
    if href is None:
        return tag("g", cell, number, aria_hidden="true")
    name = f"{row.label} in {column}: {value} {unit}. Show these submissions"
    return tag("a", tag("title", text_node(name)), cell, number, href=href, aria_label=name, class_="chart-link")


# --- trend ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    period: date
    value: int
    href: str | None


@dataclass(frozen=True)
class Series:
    label: str
    planned: bool
    points: tuple[TrendPoint, ...]  # one per period of the chart, in order


TREND_WIDTH = 640
TREND_PLOT_HEIGHT = 200
TREND_LEFT = 44
TREND_RIGHT = 32
TREND_TOP = 14
TREND_AXIS = 36
LEGEND_ROW = 22


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least `value`."""
    if value <= 1:
        return 1
    magnitude = 10 ** int(log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def axis_ticks(top: int) -> list[int]:
    """Whole-number ticks from 0 to `top` (a `nice_ceiling` value): five steps when `top` is a
    multiple of 5 (10 -> 0, 2, ..., 10), else two (2 -> 0, 1, 2)."""
    steps = 5 if top % 5 == 0 else 2
    step = max(1, top // steps)
    return list(range(0, top + 1, step))


def trend_chart(
    series: list[Series], periods: list[date], *, chart_id: str, title: str, period_word: str, unit: str = "students"
) -> Markup:
    """One line per misconception over the periods; each point with hits links to the
    submissions of that period."""
    top = nice_ceiling(max((p.value for s in series for p in s.points), default=0))
    plot_width = TREND_WIDTH - TREND_LEFT - TREND_RIGHT
    step = plot_width / max(len(periods) - 1, 1)

    def x_of(index: int) -> float:
        return TREND_LEFT + (index * step if len(periods) > 1 else plot_width / 2)

    def y_of(value: int) -> float:
        return TREND_TOP + TREND_PLOT_HEIGHT * (1 - value / top)

    body = _trend_axes(periods, top, x_of, y_of)
    for index, line in enumerate(series):
        body.append(_trend_series(line, index, x_of, y_of, period_word, unit))
    legend_top = TREND_TOP + TREND_PLOT_HEIGHT + TREND_AXIS
    for index, line in enumerate(series):
        body.append(_legend_entry(line, index, legend_top + index * LEGEND_ROW))
    height = legend_top + len(series) * LEGEND_ROW + PAD
    description = (
        "; ".join(
            f"{line.label}: "
            + ", ".join(f"{point.period.isoformat()} {point.value}" for point in line.points if point.value)
            for line in series
        )
        or "no data"
    )
    return _svg(chart_id, title, description, TREND_WIDTH, height, body, "chart chart-trend")


def _trend_axes(periods: list[date], top: int, x_of, y_of) -> list[str]:
    parts = []
    for tick in axis_ticks(top):
        y = y_of(tick)
        parts.append(
            tag(
                "line",
                x1=TREND_LEFT,
                x2=TREND_WIDTH - TREND_RIGHT,
                y1=f"{y:.1f}",
                y2=f"{y:.1f}",
                stroke=GRID_COLOUR,
                stroke_width=1,
            )
        )
        parts.append(
            tag(
                "text",
                text_node(str(tick)),
                x=TREND_LEFT - 8,
                y=f"{y + 4:.1f}",
                font_size=12,
                text_anchor="end",
                fill=MUTED_COLOUR,
            )
        )
    every = max(1, ceil(len(periods) / 8))  # at most about eight date labels
    for index, period in enumerate(periods):
        if index % every and index != len(periods) - 1:
            continue
        parts.append(
            tag(
                "text",
                text_node(period.strftime("%b %d")),
                x=f"{x_of(index):.1f}",
                y=TREND_TOP + TREND_PLOT_HEIGHT + 20,
                font_size=12,
                text_anchor="middle",
                fill=MUTED_COLOUR,
            )
        )
    return parts


def _trend_series(line: Series, index: int, x_of, y_of, period_word: str, unit: str) -> str:
    colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
    coordinates = " ".join(f"{x_of(i):.1f},{y_of(point.value):.1f}" for i, point in enumerate(line.points))
    parts = [
        tag(
            "polyline",
            points=coordinates,
            fill="none",
            stroke=colour,
            stroke_width=2.5,
            stroke_dasharray=SERIES_DASHES[index % len(SERIES_DASHES)] or None,
        )
    ]
    for i, point in enumerate(line.points):
        marker = _marker(line.planned, x_of(i), y_of(point.value), colour)
        if point.href is None or point.value == 0:
            parts.append(tag("g", marker, aria_hidden="true"))
            continue
        name = (
            f"{line.label}, {period_word} of {point.period.isoformat()}: {point.value} {unit}. Show these submissions"
        )
        parts.append(
            tag("a", tag("title", text_node(name)), marker, href=point.href, aria_label=name, class_="chart-link")
        )
    return tag("g", *parts, class_="series")


def _marker(planned: bool, x: float, y: float, colour: str) -> str:
    """Circles for planned misconceptions, squares for implementation mistakes."""
    if planned:
        return tag(
            "circle", class_="point", cx=f"{x:.1f}", cy=f"{y:.1f}", r=5, fill=colour, stroke="#ffffff", stroke_width=1.5
        )
    return tag(
        "rect",
        class_="point",
        x=f"{x - 5:.1f}",
        y=f"{y - 5:.1f}",
        width=10,
        height=10,
        fill=colour,
        stroke="#ffffff",
        stroke_width=1.5,
    )


def _legend_entry(line: Series, index: int, y: float) -> str:
    colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
    return tag(
        "g",
        tag(
            "line",
            x1=TREND_LEFT,
            x2=TREND_LEFT + 28,
            y1=y + 8,
            y2=y + 8,
            stroke=colour,
            stroke_width=2.5,
            stroke_dasharray=SERIES_DASHES[index % len(SERIES_DASHES)] or None,
        ),
        _marker(line.planned, TREND_LEFT + 14, y + 8, colour),
        tag(
            "text",
            text_node(line.label + ("" if line.planned else " (implementation)")),
            x=TREND_LEFT + 36,
            y=y + 12,
            font_size=12,
            fill=TEXT_COLOUR,
        ),
        aria_hidden="true",
    )
