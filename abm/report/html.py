"""Assembling the report's HTML page: escaping, tables, figures, sections, inline CSS.

Text is escaped unless it is `Markup` (HTML built here), so a scenario, policy or parameter
name can never inject markup. The page is self-contained: CSS inline, images as data URIs, no
script, and a Content-Security-Policy that forbids fetching anything, so the file opens the
same offline, from an e-mail or a shared drive.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Markup", "Section", "esc", "figure", "paragraph", "render_page", "table", "tag"]


class Markup(str):
    """A string of HTML built by this module (not escaped again); adding text escapes it.

    >>> Markup("<br>") + "a<b"
    '<br>a&lt;b'
    """

    __slots__ = ()

    def __add__(self, other: object) -> Markup:
        return Markup(str.__add__(self, esc(other)))

    def __radd__(self, other: object) -> Markup:
        return Markup(str.__add__(esc(other), self))


def esc(value: object) -> Markup:
    """`value` as HTML: escaped, unless it is already `Markup`.

    >>> esc("<b>&</b>"), esc(Markup("<b>x</b>"))
    ('&lt;b&gt;&amp;&lt;/b&gt;', '<b>x</b>')
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def tag(name: str, *content: object, **attrs: object) -> Markup:
    """``<name attrs>content</name>``; a trailing underscore in an attribute name is dropped
    (``class_``), None attributes are left out.

    >>> tag("a", "x<y", href="#top", class_="link")
    '<a href="#top" class="link">x&lt;y</a>'
    """
    parts = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None
    )
    return Markup(f"<{name}{parts}>" + "".join(esc(c) for c in content) + f"</{name}>")


def paragraph(*content: object, class_: str | None = None) -> Markup:
    return tag("p", *content, class_=class_)


def table(
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Sequence[int] = (),
    caption: str | None = None,
    class_: str | None = None,
) -> Markup:
    """A table; columns whose index is in `numeric` are right-aligned."""
    head = tag(
        "tr", *(tag("th", h, class_="num" if i in numeric else None) for i, h in enumerate(headers))
    )
    body = [
        tag("tr", *(tag("td", c, class_="num" if i in numeric else None) for i, c in enumerate(r)))
        for r in rows
    ]
    cap = (tag("caption", caption),) if caption else ()
    return tag("table", *cap, tag("thead", head), tag("tbody", *body), class_=class_)


def figure(uri: str, alt: str, caption: str | Markup) -> Markup:
    """An embedded image (a ``data:`` URI) with alternative text and a caption."""
    if not uri.startswith("data:image/"):
        msg = "a report embeds its figures: `uri` must be a data:image URI."
        raise ValueError(msg)
    return tag(
        "figure", Markup(f'<img src="{esc(uri)}" alt="{esc(alt)}">'), tag("figcaption", caption)
    )


@dataclass
class Section:
    """One titled part of the page; `anchor` is its id, linked from the contents."""

    anchor: str
    title: str
    body: list[Markup] = field(default_factory=list)

    def add(self, *parts: Markup) -> Section:
        self.body.extend(parts)
        return self

    def render(self) -> Markup:
        return tag("section", tag("h2", self.title), *self.body, id=self.anchor)


CSS = """
:root { --ink: #2e3440; --muted: #5b6475; --line: #d8dee9; --soft: #f4f6f9; --accent: #5e81ac; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 16px/1.5 system-ui,
  -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1060px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { font-size: 1.9rem; margin: 0 0 4px; }
header .lede { color: var(--muted); margin: 0 0 16px; font-size: 1.05rem; }
nav { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 16px; margin: 12px 0 24px; font-size: 0.95rem; }
nav a { color: var(--accent); text-decoration: none; margin-right: 18px; white-space: nowrap; }
h2 { font-size: 1.35rem; border-bottom: 2px solid var(--line); padding-bottom: 4px;
  margin: 36px 0 12px; }
h3 { font-size: 1.08rem; margin: 22px 0 8px; }
.headline { list-style: none; padding: 0; margin: 0; }
.headline li { background: var(--soft); border-left: 4px solid var(--accent); border-radius: 4px;
  padding: 10px 14px; margin: 8px 0; font-size: 1.05rem; }
.headline li.unclear { border-left-color: #b0b7c3; color: var(--muted); }
.note { color: var(--muted); font-size: 0.92rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9rem; width: auto; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.88em; background: var(--soft); padding: 0 3px; border-radius: 3px; }
figure { margin: 12px 0 24px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line);
  border-radius: 4px; }
figcaption { color: var(--muted); font-size: 0.9rem; margin-top: 6px; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; color: var(--accent); }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 12px;
  overflow-x: auto; font-size: 0.8rem; line-height: 1.4; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85rem;
  border-top: 1px solid var(--line); padding-top: 10px; }
@media print { nav { display: none; } figure, table, .headline li { break-inside: avoid; } }
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_page(
    title: str, lede: str | Markup, sections: Sequence[Section], footer: str | Markup
) -> str:
    """The whole page: header, contents, sections and footer."""
    nav = tag(
        "nav", *(tag("a", s.title, href=f"#{s.anchor}") for s in sections), aria_label="Contents"
    )
    head = (
        Markup(
            '<meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="generator" content="synthworld">'
        )
        + tag("title", title)
        + tag("style", Markup(CSS))
    )
    body = tag(
        "main",
        tag("header", tag("h1", title), paragraph(lede, class_="lede")),
        nav,
        *(s.render() for s in sections),
        tag("footer", footer),
    )
    page = tag("html", tag("head", head), tag("body", body), lang="en")
    return str(Markup("<!doctype html>\n") + page) + "\n"
