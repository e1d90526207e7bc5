"""Charts drawn on the server as SVG: no chart library, nothing fetched by the browser.

Each function returns markup for the template to place inline; every label is escaped.
Sizes are in the SVG's own units and the image scales to the page's width (``.chart``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

COLOURS = ("#c8102e", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f")
WIDTH = 480
ROW = 28


def _svg(height: int, title: str, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>'
    )


def bars(title: str, values: Sequence[tuple[str, float]], maximum: float | None = None) -> Markup:
    """Horizontal bars, one row per label (long Chinese labels fit on a phone)."""
    top = maximum or max((v for _, v in values), default=0) or 1
    label_width, bar_width = 170, WIDTH - 230
    body = []
    for row, (label, value) in enumerate(values):
        y = row * ROW + 8
        width = round(bar_width * min(value, top) / top)
        body.append(
            f'<text x="0" y="{y + 14}" font-size="13">{escape(_short(label))}</text>'
            f'<rect x="{label_width}" y="{y}" width="{width}" height="18" fill="{COLOURS[0]}"/>'
            f'<text x="{label_width + width + 6}" y="{y + 14}" font-size="13">'
            f"{escape(_number(value))}</text>"
        )
    return _svg(len(values) * ROW + 12, title, "".join(body))


def lines(title: str, series: Sequence[tuple[str, Sequence[float]]], maximum: float) -> Markup:
    """One line per series over its points (an enterprise's index from session to session),
    with a legend; the vertical axis runs from 0 to ``maximum``."""
    height, left, right, top, plot = 220, 36, WIDTH - 10, 10, 150
    longest = max((len(points) for _, points in series), default=1)
    step = (right - left) / max(longest - 1, 1)
    body = [
        f'<line x1="{left}" y1="{top + plot}" x2="{right}" y2="{top + plot}" stroke="#999"/>',
        f'<text x="0" y="{top + 10}" font-size="12">{_number(maximum)}</text>',
        f'<text x="0" y="{top + plot}" font-size="12">0</text>',
    ]
    for n, (label, points) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        xy = [
            (left + i * step, top + plot - plot * min(v, maximum) / maximum)
            for i, v in enumerate(points)
        ]
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            + '"/>'
        )
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in xy]
        ly = top + plot + 24 + 18 * (n // 2)
        lx = left + (n % 2) * 220
        body.append(
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 18}" y="{ly}" font-size="13">{escape(label)}</text>'
        )
    return _svg(height + 18 * ((len(series) - 1) // 2), title, "".join(body))


def stacked(
    title: str, columns: Sequence[str], stacks: Sequence[tuple[str, Sequence[int]]]
) -> Markup:
    """Vertical stacked bars, one column per label (a day), one colour per stack (a
    status), with a legend."""
    left, top, plot = 36, 10, 150
    totals = [sum(values[i] for _, values in stacks) for i in range(len(columns))]
    top_value = max(totals, default=0) or 1
    width = (WIDTH - left - 10) / max(len(columns), 1)
    body = [f'<text x="0" y="{top + 10}" font-size="12">{top_value}</text>']
    for i, column in enumerate(columns):
        base = float(top + plot)
        for n, (_, values) in enumerate(stacks):
            h = plot * values[i] / top_value
            base -= h
            body.append(
                f'<rect x="{left + i * width + 2:.1f}" y="{base:.1f}" width="{width - 4:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[n % len(COLOURS)]}"/>'
            )
        body.append(
            f'<text x="{left + i * width + 2:.1f}" y="{top + plot + 14}" font-size="10">'
            f"{escape(column)}</text>"
        )
    for n, (label, _) in enumerate(stacks):
        lx, ly = left + (n % 3) * 145, top + plot + 36 + 18 * (n // 3)
        body.append(
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" '
            f'fill="{COLOURS[n % len(COLOURS)]}"/>'
            f'<text x="{lx + 18}" y="{ly}" font-size="13">{escape(label)}</text>'
        )
    return _svg(top + plot + 40 + 18 * ((len(stacks) - 1) // 3 + 1), title, "".join(body))


def _short(label: str, width: int = 12) -> str:
    """A label that fits beside its bar; the table below the chart has it whole."""
    return label if len(label) <= width else label[: width - 1] + "…"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
