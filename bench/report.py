"""results.md (the table, then each figure's note) and plot.png."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.figures import Figure, markdown_table


def write(results: Path, figures: list[Figure], extras: dict, context: str) -> None:
    lines = [f"# Latchkey benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
             context, "", markdown_table(figures), "", "## Notes", ""]
    lines += [f"- **{f.name}**: {f.note}" for f in figures if f.note]
    lines += ["", "p50 / p99 are nearest-rank percentiles of the n samples; a figure with one "
              "value shows it as p50.  See bench/README.md for what each figure measures.", ""]
    (results / "results.md").write_text("\n".join(lines))
    try:
        plot(results / "plot.png", figures, extras)
    except ImportError:  # matplotlib is the optional `bench` extra
        (results / "plot.png").unlink(missing_ok=True)


def plot(path: Path, figures: list[Figure], extras: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    acks, lags, sync, latency = axes[0][0], axes[0][1], axes[1][0], axes[1][1]

    for f in figures:
        if f.name.startswith("Slack ack") and "all kinds" not in f.name and f.samples:
            ordered = sorted(f.samples)
            style = "--" if "no pauses" in f.name else "-"
            acks.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], style,
                      label=f.name.removeprefix("Slack ack: "))
    acks.axvline(100, color="red", lw=0.8, label="target p99 100 ms")
    acks.set(xscale="log", xlabel="acknowledgement latency (ms)", ylabel="fraction of requests",
             title="Slack acknowledgements, 50 concurrent requesters, Okta 2 s/call")
    acks.legend(fontsize=6)

    for label, series in (extras.get("revocation") or {}).items():
        lags.scatter(series["expiry"], series["lag"], s=2, label=label)
    lags.axhline(2, color="red", lw=0.8, label="target p99 2 s")
    lags.set(xlabel="expiry, seconds after the first", ylabel="lag to Okta DELETE (s)",
             title="Revocation lag by expiry time")
    lags.legend(fontsize=7)

    for run in (extras.get("sync") or {}).values():
        if run.get("rss"):
            xs, ys = zip(*run["rss"])
            sync.plot(xs, ys, label=f"{run['users']:,} users / {run['groups']:,} groups")
    sync.set(xlabel="seconds since `latchkey serve` started", ylabel="RSS (MB)",
             title="Memory of `latchkey serve` during its first Okta sync")
    sync.legend(fontsize=7)

    shown = [f for f in figures if f.unit in ("ms", "s") and f.samples and not f.single]
    names = [f.name.replace("Slack ack: ", "ack: ")[:48] for f in shown]
    scale = [1 if f.unit == "ms" else 1000 for f in shown]
    latency.barh(names, [f.p99 * k for f, k in zip(shown, scale)], color="#f4a582", label="p99")
    latency.barh(names, [f.p50 * k for f, k in zip(shown, scale)], color="#4393c3", label="p50")
    latency.set(xscale="log", xlabel="milliseconds", title="p50 and p99 of every latency figure")
    latency.tick_params(axis="y", labelsize=6)
    latency.legend(fontsize=7)

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
