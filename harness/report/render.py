"""Rendering a built report: Markdown (REPORT.md) and a self-contained HTML page with the
plots inline (report.html). Same input, same bytes."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

from harness.report.model import DASH, Notes, Section, Table, Value, slug

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass
class Report:
    title: str
    intro: list[str]
    sections: list[Section]
    notes: Notes


def superscript(numbers: Iterable[int]) -> str:
    return ",".join(str(n).translate(_SUPERSCRIPT) for n in numbers)


# Text from records (run ids, errors, dataset and folder names) must not become Markdown:
# a `|` would split a table row, `<` / `>` open HTML, a backtick start code.
_MARKDOWN_TEXT = str.maketrans({"<": "&lt;", ">": "&gt;", "`": "\\`"})


def markdown_text(text: str) -> str:
    """Text that Markdown shows as it is."""
    return text.translate(_MARKDOWN_TEXT)


def markdown_note(text: str) -> str:
    """A footnote: no HTML gets through; backticks stay, since notes quote commands in code."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def markdown_cell(value: Value) -> str:
    return markdown_text(value.text).replace("|", "\\|") + superscript(value.notes)


def table_markdown(table: Table, heading: str | None = "###") -> list[str]:
    """The table under its heading; its workload, where it has one, in a line under it."""
    lines = [f"{heading} {table.title}", ""] if heading else []
    caption = [f"Workload: {markdown_text(table.workload)}.", ""] if table.workload else []
    if not table.rows:
        return [*lines, "None.", "", *caption]
    lines.append("| " + " | ".join(h.replace("|", "\\|") for h in table.header) + " |")
    lines.append("|" + "|".join("---:" if i in table.numeric else "---" for i in range(len(table.header))) + "|")
    lines.extend("| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in table.rows)
    return [*lines, "", *caption]


def notes_markdown(notes: Notes) -> list[str]:
    if not notes.texts:
        return []
    return ["## Notes", "", *[f"{i}. {markdown_note(t)}" for i, t in enumerate(notes.texts, 1)], ""]


def render_markdown(report: Report) -> str:
    # the intro names runs and files: its data is kept free of backticks where it is made (build.py)
    intro = [markdown_note(p) for p in report.intro]
    lines = [f"# {report.title}", "", *[line for p in intro for line in (p, "")]]
    lines += ["Superscript numbers refer to the notes at the end.", ""]
    for section in report.sections:
        lines += [f"{'#' * section.level} {section.title}", ""]
        for paragraph in section.text:
            lines += [paragraph, ""]
        for table in section.tables:
            lines += table_markdown(table)
    lines += notes_markdown(report.notes)
    return "\n".join(lines).rstrip("\n") + "\n"


def _inline_html(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_cell(value: Value, tag: str, numeric: bool) -> str:
    notes = "".join(f'<sup><a href="#note-{n}">{n}</a></sup>' for n in value.notes)
    cls = ' class="num"' if numeric else ""
    cls = ' class="missing"' if value.text == DASH else cls
    return f"<{tag}{cls}>{html.escape(value.text)}{notes}</{tag}>"


def table_html(table: Table) -> str:
    head = "".join(_html_cell(Value(h), "th", i in table.numeric) for i, h in enumerate(table.header))
    body = "\n".join(
        "<tr>" + "".join(_html_cell(v, "td", i in table.numeric) for i, v in enumerate(row)) + "</tr>"
        for row in table.rows
    )
    if not table.rows:
        body = f'<tr><td colspan="{len(table.header)}">None.</td></tr>'
    workload = f'<br><span class="workload">Workload: {html.escape(table.workload)}.</span>' if table.workload else ""
    return (
        f'<div class="wide">\n<table id="{table.slug}">\n<caption>{html.escape(table.title)}{workload}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n</div>"
    )


STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
div.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
caption span.workload { font-weight: normal; color: #444; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.missing { text-align: center; color: #888; }
figure { margin: 1em 0; }
figcaption { font-size: 12px; color: #555; }
svg.plot { max-width: 100%; height: auto; border: 1px solid #eee; }
ol.notes { font-size: 13px; }
code { background: #f4f4f4; padding: 0 3px; }
""".strip()


def render_html(report: Report) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(report.title)}</h1>",
        *[f"<p>{_inline_html(p)}</p>" for p in report.intro],
        "<p>Superscript numbers link to the notes at the end.</p>",
        "<nav><ul>",
        *[f'<li><a href="#{slug(s.title)}">{html.escape(s.title)}</a></li>' for s in report.sections],
        '<li><a href="#notes">Notes</a></li>',
        "</ul></nav>",
    ]
    for section in report.sections:
        out.append(f'<section id="{slug(section.title)}">')
        out.append(f"<h{section.level}>{html.escape(section.title)}</h{section.level}>")
        out.extend(f"<p>{_inline_html(p)}</p>" for p in section.text)
        for svg, caption in section.plots:
            out.append(f"<figure>\n{svg}\n<figcaption>{html.escape(caption)}</figcaption>\n</figure>")
        out.extend(table_html(t) for t in section.tables)
        out.append("</section>")
    out.append('<section id="notes">\n<h2>Notes</h2>')
    if report.notes.texts:
        out.append('<ol class="notes">')
        out.extend(f'<li id="note-{i}">{_inline_html(t)}</li>' for i, t in enumerate(report.notes.texts, 1))
        out.append("</ol>")
    else:
        out.append("<p>None.</p>")
    out += ["</section>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
