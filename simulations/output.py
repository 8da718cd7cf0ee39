"""Rendering a `Report`: a text table for the terminal and a PNG plot (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from .scenarios import Report


def render_table(report: Report) -> str:
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
