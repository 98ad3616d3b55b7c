"""Plots as inline SVG, written by hand: deterministic (coordinates with one decimal, no
randomness), self-contained (no scripts, fonts or style sheets from elsewhere)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from harness.report.model import DASH

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _num(x: float) -> str:
    return f"{x:.1f}"


def _tick(x: float) -> str:
    return f"{round(x, 10):g}"


class Svg:
    """A small deterministic SVG writer: coordinates with one decimal, no randomness."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.title = width, height, title  # height may grow until done()
        self.parts = [
            f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">'
            f"{html.escape(title)}</text>",
        ]

    def add(self, text: str) -> None:
        self.parts.append(text)

    def line(self, x1, y1, x2, y2, stroke="#000000", width=1.0, dash: str | None = None) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(
            f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" stroke="{stroke}" '
            f'stroke-width="{width}"{extra}/>'
        )

    def rect(self, x, y, w, h, fill, title: str | None = None) -> None:
        inner = f"<title>{html.escape(title)}</title>" if title else ""
        self.add(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="{fill}">{inner}</rect>')

    def text(self, x, y, text, anchor="middle", size=None, rotate: float | None = None, fill="#000000") -> None:
        size_attr = f' font-size="{size}"' if size else ""
        transform = f' transform="rotate({rotate:g} {_num(x)} {_num(y)})"' if rotate is not None else ""
        self.add(
            f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}"{size_attr}{transform}>'
            f"{html.escape(str(text))}</text>"
        )

    def legend(self, names: Sequence[str], colors: Sequence[str], x: float, y: float, dashes=None) -> int:
        """Swatches and names in rows of as many as fit; returns the number of rows."""
        per_row = max(1, int((self.width - x - 10) // 150))
        for i, (name, color) in enumerate(zip(names, colors)):
            cx = x + i % per_row * 150
            y_row = y + i // per_row * 16
            if dashes is not None:
                self.line(cx, y_row - 4, cx + 16, y_row - 4, stroke=color, width=2.5, dash=dashes[i])
            else:
                self.rect(cx, y_row - 10, 12, 12, color)
            self.text(cx + 20, y_row, name, anchor="start")
        return max(1, math.ceil(len(names) / per_row))

    def done(self) -> str:
        w, h = self.width, self.height
        head = [
            f'<svg class="plot" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            'font-family="sans-serif" font-size="11">',
            f"<title>{html.escape(self.title)}</title>",
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
        ]
        return "\n".join([*head, *self.parts, "</svg>"])


def bar_chart(
    title: str,
    groups: Sequence[str],
    series: Sequence[str],
    value,
    y_label: str,
    log: bool = False,
    width: int = 780,
    height: int = 340,
) -> str:
    """Grouped bars with error bars. value(group, series) -> (v, low, high) or None; a
    missing bar is drawn as a dash at the axis. log: logarithmic y (v > 0; 0 marked)."""
    svg = Svg(width, height, title)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    rows = svg.legend(series, colors, 70, 36)
    height += 16 * (rows - 1)
    svg.height = height
    left, right, top, bottom = 70, width - 20, 50 + 16 * (rows - 1), height - 50
    points = [value(g, s) for g in groups for s in series]
    found = [p for p in points if p is not None]
    tops = [float(h if h is not None else v) for v, _, h in found] or [1.0]
    if log:
        positive = [float(x) for p in found for x in p if x is not None and float(x) > 0] or [1e-12, 1.0]
        lo_exp, hi_exp = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
        hi_exp = max(hi_exp, lo_exp + 1)

        def y_of(x: float) -> float:
            x = min(max(float(x), 10.0**lo_exp), 10.0**hi_exp)
            return bottom - (math.log10(x) - lo_exp) / (hi_exp - lo_exp) * (bottom - top)

        ticks = [(10.0**e, f"1e{e}") for e in range(lo_exp, hi_exp + 1)]
    else:
        peak = max(max(tops), 1e-12)
        step = _nice_step(peak * 1.05)
        y_max = step * math.ceil(peak * 1.05 / step)

        def y_of(x: float) -> float:
            return bottom - float(x) / y_max * (bottom - top)

        ticks = [(i * step, _tick(i * step)) for i in range(int(round(y_max / step)) + 1)]
    for tick, label in ticks:
        y = y_of(tick)
        svg.line(left, y, right, y, stroke="#dddddd")
        svg.text(left - 6, y + 4, label, anchor="end")
    svg.line(left, top, left, bottom)
    svg.line(left, bottom, right, bottom)
    svg.text(16, (top + bottom) / 2, y_label, rotate=-90)
    group_width = (right - left) / max(len(groups), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    for gi, group in enumerate(groups):
        x0 = left + gi * group_width + group_width * 0.1
        svg.text(left + (gi + 0.5) * group_width, bottom + 16, group)
        for si, name in enumerate(series):
            point = value(group, name)
            x = x0 + si * bar_width
            center = x + bar_width / 2
            if point is None:
                svg.text(center, bottom - 4, DASH, fill="#888888")
                continue
            v, low, high = point
            if log and float(v) <= 0:
                svg.text(center, bottom - 4, "0", fill=colors[si])
                continue
            base = bottom if not log else y_of(10.0**lo_exp)
            y = y_of(v)
            svg.rect(x + 1, y, max(bar_width - 2, 1), max(base - y, 0), colors[si], f"{group}, {name}: {float(v):.4g}")
            if low is not None and high is not None:
                y_low, y_high = y_of(low), y_of(high)
                svg.line(center, y_low, center, y_high, width=1.2)
                svg.line(center - 4, y_low, center + 4, y_low, width=1.2)
                svg.line(center - 4, y_high, center + 4, y_high, width=1.2)
    return svg.done()


def line_chart(
    title: str,
    lines: Sequence[tuple[str, Sequence[tuple[float, float]], str | None]],
    x_label: str,
    y_label: str,
    width: int = 780,
    height: int = 340,
    y_cap: float | None = None,
    bands: Sequence[tuple[str, Sequence[tuple[float, float, float]]]] = (),
    x_name: str = "epoch",
) -> str:
    """Lines with markers: (name, [(x, y)...], dash pattern or None); `bands`, drawn under
    them in the same colour: (name of a line, [(x, low, high)...]), e.g. a spread over seeds."""
    svg = Svg(width, height, title)
    names = sorted({name.rsplit(" ", 1)[0] for name, _, _ in lines})
    color_of = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    rows = svg.legend(
        [n for n, _, _ in lines],
        [color_of[n.rsplit(" ", 1)[0]] for n, _, _ in lines],
        70,
        36,
        dashes=[d for _, _, d in lines],
    )
    height += 16 * (rows - 1)
    svg.height = height
    left, right, top, bottom = 70, width - 20, 50 + 16 * (rows - 1), height - 50
    xs = [x for _, pts, _ in lines for x, _ in pts] or [1]
    ys = [y for _, pts, _ in lines for _, y in pts] + [h for _, pts in bands for _, _, h in pts] or [1.0]
    x_min, x_max = min(xs), max(xs)
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    step = _nice_step(max(max(ys), 1e-12) * 1.05)
    y_max = step * math.ceil(max(max(ys), 1e-12) * 1.05 / step)
    if y_cap is not None and max(ys) <= y_cap < y_max:
        step, y_max = _nice_step(y_cap), y_cap

    def at(x, y):
        return (left + (x - x_min) / (x_max - x_min) * (right - left), bottom - y / y_max * (bottom - top))

    for i in range(int(round(y_max / step)) + 1):
        _, y = at(x_min, i * step)
        svg.line(left, y, right, y, stroke="#dddddd")
        svg.text(left - 6, y + 4, _tick(i * step), anchor="end")
    for x in (
        sorted(set(xs)) if len(set(xs)) <= 20 else range(int(x_min), int(x_max) + 1, max(1, (x_max - x_min) // 10))
    ):
        px, _ = at(x, 0)
        svg.text(px, bottom + 16, _tick(x))
    svg.line(left, top, left, bottom)
    svg.line(left, bottom, right, bottom)
    svg.text((left + right) / 2, height - 12, x_label)
    svg.text(16, (top + bottom) / 2, y_label, rotate=-90)
    for name, pts in bands:
        if len(pts) > 1:
            outline = [at(x, low) for x, low, _ in pts] + [at(x, high) for x, _, high in reversed(pts)]
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y in outline)
            svg.add(f'<polygon points="{path}" fill="{color_of[name.rsplit(" ", 1)[0]]}" fill-opacity="0.2"/>')
    for name, pts, dash in lines:
        color = color_of[name.rsplit(" ", 1)[0]]
        coords = [at(x, y) for x, y in pts]
        if len(coords) > 1:
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y in coords)
            extra = f' stroke-dasharray="{dash}"' if dash else ""
            svg.add(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{extra}/>')
        for (x, y), (px, py) in zip(pts, coords):
            svg.add(
                f'<circle cx="{_num(px)}" cy="{_num(py)}" r="3" fill="{color}"><title>'
                f"{html.escape(name)}, {x_name} {_tick(x)}: {y:.2f}</title></circle>"
            )
    return svg.done()
