"""Pictures of a result as standalone SVG: the persistence diagram and the barcode.

Written by hand (no plotting library): a few hundred bytes of markup per feature, readable in any
browser. Essential classes (infinite death) sit on a dashed line marked infinity in the diagram and
run to the right edge with an arrow in the barcode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

Pair = Sequence[float | None]
Diagrams = dict[str, list[Pair]]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")
BARS_PER_DIMENSION = 100
_FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _color(dim: str) -> str:
    return PALETTE[int(dim) % len(PALETTE)]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _range(diagrams: Diagrams) -> tuple[float, float]:
    values = [v for pairs in diagrams.values() for pair in pairs for v in pair if v is not None]
    if not values:
        return 0.0, 1.0
    lo, hi = min(0.0, min(values)), max(values)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _heading(width: int, title: str, subtitle: str | None) -> list[str]:
    parts = [
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>'
    ]
    if subtitle:
        parts.append(
            f'<text x="{width / 2}" y="32" text-anchor="middle" font-size="10"'
            f' fill="#666">{escape(subtitle)}</text>'
        )
    return parts


def _svg(width: int, height: int, title: str, body: Iterable[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
            f' viewBox="0 0 {width} {height}" {_FONT} font-size="12">',
            f"<title>{escape(title)}</title>",
            f'<rect width="{width}" height="{height}" fill="white"/>',
            *body,
            "</svg>",
            "",
        ]
    )


def _legend(dims: list[str], diagrams: Diagrams, x: float, y: float) -> list[str]:
    parts = []
    for i, dim in enumerate(dims):
        yy = y + 16 * i
        parts.append(f'<circle cx="{x}" cy="{yy - 4}" r="4" fill="{_color(dim)}"/>')
        parts.append(f'<text x="{x + 9}" y="{yy}">H{escape(dim)} ({len(diagrams[dim])})</text>')
    return parts


def persistence_diagram_svg(
    diagrams: Diagrams, title: str = "Persistence diagram", subtitle: str | None = None
) -> str:
    size, margin = 480, 56
    plot = size - 2 * margin
    lo, hi = _range(diagrams)
    pad = (hi - lo) * 0.04
    lo_p, hi_p = lo - pad, hi + pad
    infinity_y = margin - 14  # a line above the plot for essential classes

    def sx(v: float) -> float:
        return margin + (v - lo_p) / (hi_p - lo_p) * plot

    def sy(v: float) -> float:
        return size - margin - (v - lo_p) / (hi_p - lo_p) * plot

    body = [
        *_heading(size, title, subtitle),
        f'<rect x="{margin}" y="{margin}" width="{plot}" height="{plot}" fill="none"'
        ' stroke="#444"/>',
        f'<line x1="{sx(lo_p):.2f}" y1="{sy(lo_p):.2f}" x2="{sx(hi_p):.2f}" y2="{sy(hi_p):.2f}"'
        ' stroke="#999"/>',
        f'<line x1="{margin}" y1="{infinity_y}" x2="{margin + plot}" y2="{infinity_y}"'
        ' stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="{margin - 6}" y="{infinity_y + 4}" text-anchor="end">\u221e</text>',
        f'<text x="{size / 2}" y="{size - 14}" text-anchor="middle">birth</text>',
        f'<text x="16" y="{size / 2}" text-anchor="middle"'
        f' transform="rotate(-90 16 {size / 2})">death</text>',
    ]
    for tick in _nice_ticks(lo_p, hi_p):
        body.append(
            f'<line x1="{sx(tick):.2f}" y1="{size - margin}" x2="{sx(tick):.2f}"'
            f' y2="{size - margin + 4}" stroke="#444"/>'
        )
        body.append(
            f'<text x="{sx(tick):.2f}" y="{size - margin + 16}"'
            f' text-anchor="middle">{_fmt(tick)}</text>'
        )
        body.append(
            f'<line x1="{margin - 4}" y1="{sy(tick):.2f}" x2="{margin}"'
            f' y2="{sy(tick):.2f}" stroke="#444"/>'
        )
        body.append(
            f'<text x="{margin - 6}" y="{sy(tick) + 4:.2f}" text-anchor="end">{_fmt(tick)}</text>'
        )
    dims = sorted(diagrams, key=int)
    for dim in dims:
        color = _color(dim)
        body.append(f'<g fill="{color}" fill-opacity="0.75" class="dim-{escape(dim)}">')
        for birth, death in diagrams[dim]:
            assert birth is not None
            y = infinity_y if death is None else sy(death)
            label = f"H{dim} [{_fmt(birth)}, {'inf' if death is None else _fmt(death)})"
            body.append(
                f'<circle cx="{sx(birth):.2f}" cy="{y:.2f}" r="3">'
                f"<title>{escape(label)}</title></circle>"
            )
        body.append("</g>")
    body += _legend(dims, diagrams, margin + plot - 70, margin + plot - 16 * len(dims) + 4)
    return _svg(size, size, title, body)


def barcode_svg(diagrams: Diagrams, title: str = "Barcode", subtitle: str | None = None) -> str:
    width, margin_left, margin_right, top = 640, 48, 24, 44
    plot = width - margin_left - margin_right
    lo, hi = _range(diagrams)
    arrow_room = 16

    def sx(v: float) -> float:
        return margin_left + (v - lo) / (hi - lo) * (plot - arrow_room)

    dims = sorted(diagrams, key=int)
    body: list[str] = []
    y = top
    for dim in dims:
        pairs = sorted(
            diagrams[dim],
            key=lambda p: math.inf if p[1] is None else p[1] - (p[0] or 0.0),
            reverse=True,
        )
        shown = sorted(pairs[:BARS_PER_DIMENSION], key=lambda p: (p[0], p[1] is None, p[1] or 0))
        color = _color(dim)
        note = "" if len(pairs) <= len(shown) else f", {len(shown)} longest of {len(pairs)} shown"
        body.append(
            f'<text x="{margin_left}" y="{y + 12}" fill="{color}">'
            f"H{escape(dim)} ({len(pairs)} bar{'' if len(pairs) == 1 else 's'}"
            f"{escape(note)})</text>"
        )
        y += 20
        step = 6 if len(shown) <= 40 else 3
        for birth, death in shown:
            assert birth is not None
            x1 = sx(birth)
            x2 = sx(hi) + arrow_room - 4 if death is None else max(sx(death), x1 + 1)
            label = f"H{dim} [{_fmt(birth)}, {'inf' if death is None else _fmt(death)})"
            body.append(
                f'<line x1="{x1:.2f}" y1="{y}" x2="{x2:.2f}" y2="{y}" stroke="{color}"'
                f' stroke-width="{step - 1}"><title>{escape(label)}</title></line>'
            )
            if death is None:
                body.append(
                    f'<path d="M{x2:.2f},{y - 3} L{x2 + 5:.2f},{y} L{x2:.2f},{y + 3} Z"'
                    f" fill={quoteattr(color)}/>"
                )
            y += step
        y += 14
    axis_y = y + 4
    body.append(
        f'<line x1="{margin_left}" y1="{axis_y}" x2="{margin_left + plot}"'
        f' y2="{axis_y}" stroke="#444"/>'
    )
    for tick in _nice_ticks(lo, hi):
        body.append(
            f'<line x1="{sx(tick):.2f}" y1="{axis_y}" x2="{sx(tick):.2f}"'
            f' y2="{axis_y + 4}" stroke="#444"/>'
        )
        body.append(
            f'<text x="{sx(tick):.2f}" y="{axis_y + 16}" text-anchor="middle">{_fmt(tick)}</text>'
        )
    body.append(
        f'<text x="{margin_left + plot / 2}" y="{axis_y + 34}"'
        ' text-anchor="middle">filtration value</text>'
    )
    height = axis_y + 44
    return _svg(width, height, title, [*_heading(width, title, subtitle), *body])
