"""Tiny builders for self-contained HTML reports (no template engine, no external assets).

Every piece of text that came from a user (file names, labels, CSV cells, error messages) is
escaped; only strings wrapped in ``Markup`` (produced by these helpers) pass through verbatim.
That makes a report built from a hostile CSV safe to open in a browser. Images are embedded as
data URIs so the report is one file that can be archived or mailed as evidence.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fakescope.report.plots import png_data_uri

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.3em 0}
.figs{display:flex;flex-wrap:wrap;gap:12px}.figs figure{margin:0;flex:1 1 480px}
figcaption{font-size:.85em;color:#555}.note{color:#555;font-size:.9em}.bad{color:#a00}
"""


class Markup(str):
    """A string that is already safe HTML; everything else gets escaped."""

    __slots__ = ()


def esc(value: Any) -> Markup:
    """Escape any value for HTML text or attribute context (quotes included)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any]) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def tag(name: str, *children: Any, **attrs: Any) -> Markup:
    """``tag("p", "text", class_="note")``: children escaped unless Markup; attrs always escaped."""
    attr = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None and v is not False
    )
    return Markup(f"<{name}{attr}>{join(children)}</{name}>")


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers for humans: fixed digits for floats, '-' for missing/undefined."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
          headers: Mapping[str, str] | None = None, digits: int = 3) -> Markup:
    """HTML table from a list of dicts; columns default to the union of keys in first-seen order."""
    if columns is None:
        seen: dict[str, None] = {}
        for r in rows:
            for k in r:
                seen.setdefault(k, None)
        columns = list(seen)
    headers = headers or {}
    head = tag("tr", *(tag("th", headers.get(c, c)) for c in columns))
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            numeric = isinstance(v, int | float) and not isinstance(v, bool)
            cells.append(tag("td", v if isinstance(v, Markup) else fmt(v, digits), class_="num" if numeric else None))
        body.append(tag("tr", *cells))
    return tag("table", tag("thead", head), tag("tbody", *body))


def image(png: str | os.PathLike[str] | bytes, alt: str, caption: str | None = None) -> Markup:
    """A figure with the PNG embedded as a data URI."""
    img = Markup(f'<img src="{png_data_uri(png)}" alt="{esc(alt)}">')
    return tag("figure", img, tag("figcaption", caption) if caption else Markup(""))


def figures(*figs: Markup) -> Markup:
    return tag("div", *figs, class_="figs")


def section(title: str, *parts: Any) -> Markup:
    return tag("section", tag("h2", title), *parts)


def paragraph(text: Any, cls: str | None = None) -> Markup:
    return tag("p", text, class_=cls)


def bullet_list(items: Iterable[Any]) -> Markup:
    return tag("ul", *(tag("li", i) for i in items))


def page(title: str, *parts: Any) -> str:
    """A complete HTML document; no external CSS, fonts, scripts or images."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body>{tag('h1', title)}{join(parts)}</body></html>\n"
    )
