"""Charts as inline SVG rendered by pygal on the server: no script, no asset from anywhere."""

from __future__ import annotations

import pygal
from pygal.style import Style

STYLE = Style(background="transparent", plot_background="transparent", foreground="#334155",
              foreground_strong="#0f172a", foreground_subtle="#e2e8f0", opacity=".85", opacity_hover="1",
              colors=("#4f46e5", "#16a34a", "#dc2626", "#d97706", "#0891b2"),
              font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
              label_font_size=11, major_label_font_size=11, legend_font_size=12, value_font_size=10)

_COMMON = dict(style=STYLE, js=[], disable_xml_declaration=True, explicit_size=False, width=900, height=300,
               show_y_guides=True, legend_at_bottom=True, print_values=False, margin=10)


def _svg(chart) -> str:
    return chart.render(is_unicode=True)


def margin_over_time(rows: list[dict], currency: str) -> str:
    chart = pygal.Line(**_COMMON, x_label_rotation=0, show_minor_x_labels=False, dots_size=2,
                       title=f"Revenue and margin per day ({currency})")
    rows = [r for r in rows if r["currency"] == currency]
    chart.x_labels = [r["key"][5:] for r in rows]
    chart.x_labels_major = chart.x_labels[:: max(1, len(rows) // 8)]
    chart.add("revenue", [float(r["revenue"]) for r in rows])
    chart.add("margin", [float(r["margin"]) for r in rows])
    return _svg(chart)


def margin_by(rows: list[dict], currency: str, what: str, top: int = 10) -> str:
    rows = [r for r in rows if r["currency"] == currency][:top]
    chart = pygal.HorizontalBar(**{**_COMMON, "width": 560, "height": max(200, 80 + 30 * len(rows))},
                                title=f"Margin by {what} ({currency})", show_legend=False)
    chart.x_labels = [r["key"] for r in rows]
    chart.add("margin", [float(r["margin"]) for r in rows])
    return _svg(chart)
