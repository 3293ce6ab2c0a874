"""`python -m bench` (what `make bench` runs): every scenario, then results.md and plot.png."""

from __future__ import annotations

import argparse
import logging
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import burst, interactive, report, review, revocation, sync
from bench.figures import Figure, Results

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = {
    "interactive": interactive.run,
    "burst": burst.run,
    "revocation": revocation.run,
    "sync": sync.run,
    "review": review.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", default=list(SCENARIOS),
                        help=f"which to run: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--full", action="store_true", help="revocation at full size: 10,000 "
                        "grants over 3 minutes per run (about 8 minutes more)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (databases, logs)")
    args = parser.parse_args(argv)
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenario {sorted(unknown)[0]!r}")
    if args.full:
        SCENARIOS["revocation"] = lambda work: revocation.run(work, grants=10_000, spread=180.0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bench: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="latchkey-bench-"))
    figures: list[Figure] = []
    extras: dict = {}
    started = time.monotonic()
    try:
        for name in args.scenarios:
            began = time.monotonic()
            logging.info("scenario %s", name)
            found = SCENARIOS[name](work / name)
            figures += found
            if isinstance(found, Results):
                extras[name] = found.extras
            logging.info("scenario %s took %.0f s", name, time.monotonic() - began)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            logging.info("work directory kept: %s", work)
    elapsed = time.monotonic() - started
    context = (f"{platform.node()} · {platform.python_implementation()} {platform.python_version()} · "
               f"{_cores()} cores · {elapsed:.0f} s in all")
    report.write(RESULTS, figures, extras, context)
    print((RESULTS / "results.md").read_text())
    return 0 if all(f.passed is not False for f in figures) else 1


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
