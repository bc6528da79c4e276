"""`etl analytics --plot`: hourly entries/exits and occupancy over time, one panel per service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from etl_core import ServiceSummary


def plot_summaries(
    summaries: Mapping[str, ServiceSummary],
    series: Mapping[str, Sequence[tuple[datetime, int]]],
    out: Path,
) -> None:
    """Write a PNG: bars of entries (up) and exits (down) per hour, occupancy as a step line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    services = sorted(summaries)
    fig, axes = plt.subplots(
        max(1, len(services)), 1, figsize=(11, 3.2 * max(1, len(services))), squeeze=False
    )
    for ax, service in zip(axes[:, 0], services, strict=False):
        summary = summaries[service]
        hours = [h.hour for h in summary.hourly]
        width = 1 / 24 * 0.8
        ax.bar(
            hours,
            [h.entries for h in summary.hourly],
            width=width,
            color="#2a9d8f",
            label="entries",
        )
        ax.bar(
            hours, [-h.exits for h in summary.hourly], width=width, color="#e76f51", label="exits"
        )
        points = series.get(service, [])
        ax.step(
            [t for t, _ in points],
            [v for _, v in points],
            where="post",
            color="#264653",
            label="occupancy",
        )
        ax.set_title(f"{service}: now {summary.occupancy.value}, peak {summary.peak.value}")
        ax.axhline(0, color="#999", linewidth=0.5)
        ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def require_matplotlib(out: Path) -> None:
    """Fail in one line before any work: matplotlib not installed (naming the extra), or `out`
    a file type it cannot write."""
    from etl_harness.cli.errors import UsageProblem

    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageProblem(
            "--plot needs matplotlib", "install the plot extra: pip install 'etl-pipeline[plot]'"
        ) from None
    kinds = Figure().canvas.get_supported_filetypes()
    if out.suffix.lstrip(".").lower() not in kinds:
        raise UsageProblem(
            f"--plot {out}: matplotlib cannot write {out.suffix or 'a file without a suffix'}",
            f"name a file ending in one of {', '.join('.' + k for k in sorted(kinds))}",
        )
