"""Text tables for the terminal (one printer for every benchmark and scenario report) and a
`Report`'s PNG plot (matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scenarios import Report


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a `Table`: its title, width, and how its numbers are formatted (a format
    spec such as "," or ".2f"; text is only aligned)."""

    title: str
    width: int
    spec: str = ""
    align: str = ">"

    def cell(self, value: object) -> str:
        spec = "" if isinstance(value, str) else self.spec
        return format(value, f"{self.align}{self.width}{spec}")


class Table:
    """A fixed-width table printed a row at a time, so a benchmark can show each row as soon
    as it is measured: `print(t.header())`, then `print(t.row(...))` per row."""

    def __init__(self, *columns: Column, sep: str = " ", indent: str = "") -> None:
        self.columns = columns
        self.sep = sep
        self.indent = indent

    def header(self, rule: bool = True) -> str:
        """The titles, under a rule of dashes as wide as them unless `rule` is False."""
        titles = self.sep.join(format(c.title, f"{c.align}{c.width}") for c in self.columns)
        ruled = f"\n{self.indent}{'-' * len(titles)}" if rule else ""
        return self.indent + titles + ruled

    def row(self, *values: object) -> str:
        cells = (c.cell(v) for c, v in zip(self.columns, values, strict=True))
        return self.indent + self.sep.join(cells)


def render_table(report: Report) -> str:
    """A scenario's report, each column as wide as its widest cell (all rows known)."""
    cells = [[str(c) for c in report.columns]] + [
        [f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in row]
        for row in report.rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(report.columns))]
    lines = [report.title, ""]
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(c.rjust(w) if n else c.ljust(w) for c, w in zip(row, widths, strict=True))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.extend(f"  {note}" for note in report.notes)
    return "\n".join(lines)


def render_plot(report: Report, path: Path) -> Path:
    """A line per series, or a bar per row's last numeric column when there are none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    if report.series:
        for label, (xs, ys) in report.series.items():
            ax.plot(xs, ys, label=label)
        ax.set_xlabel(report.xlabel)
        ax.legend()
    else:
        column = report.bar_column if report.bar_column is not None else -1
        labels = [" ".join(str(v) for v in row[:2]) for row in report.rows]
        values = [float(str(row[column]).replace(",", "").rstrip("%")) for row in report.rows]
        ax.barh(labels, values)
        ax.invert_yaxis()
        ax.set_xlabel(report.columns[column])
        if report.limit is not None:
            value, label = report.limit
            ax.axvline(value, color="firebrick", linestyle="--", label=label)
            ax.legend(loc="lower right")
    ax.set_ylabel(report.ylabel)
    ax.set_title(report.title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
