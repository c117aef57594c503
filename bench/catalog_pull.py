"""Pull the same number of variants from the Printful, CJdropshipping and AliExpress emulators through
`sync catalog`, each on a fresh SQLite database; compare calls with the fewest each platform's page sizes
allow and time with the least each platform's documented rate limit allows (how each figure is derived is in
the docstring of bench/catalog_pull_{printful,cj,ali}.py, which also run alone).

    .venv/bin/python bench/catalog_pull.py [--variants 50000] [--only printful,cj,ali]

At 50,000 variants a run takes about 30 minutes (Printful's 120 requests a minute and CJ's 6 a second are
most of it). Not part of the test suite. The last line:

    catalog_pull variants=N printful_calls=A printful_ideal=B cj_calls=C cj_ideal=D ali_calls=E ali_ideal=F
    vs_rate_floor=Rx

where R is the worst of the three (seconds taken over the rate floor).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalog_pull_ali  # noqa: E402
import catalog_pull_cj  # noqa: E402
import catalog_pull_printful  # noqa: E402

KINDS = {"printful": catalog_pull_printful.measure, "cj": catalog_pull_cj.measure, "ali": catalog_pull_ali.measure}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--only", default=",".join(KINDS), help="comma-separated subset of printful,cj,ali")
    args = parser.parse_args(argv)
    from dropbridge.bootstrap import configure_logging

    configure_logging("WARNING")
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kind(s) {unknown}; known: {sorted(KINDS)}")
    figures: dict[str, str] = {}
    worst = 0.0
    for kind in kinds:
        calls, ideal, seconds, floor = KINDS[kind](args.variants)
        # Within a platform's burst allowance the floor is zero and a ratio says nothing: left out of the worst.
        ratio = f"{seconds / floor:.2f}x" if floor else "n/a, within the burst"
        worst = max(worst, seconds / floor) if floor else worst
        print(f"{kind}: {calls} calls (ideal {ideal}), {seconds:.1f} s against a rate floor of {floor:.1f} s "
              f"({ratio})", flush=True)
        figures[f"{kind}_calls"], figures[f"{kind}_ideal"] = str(calls), str(ideal)
    line = " ".join(f"{k}={figures.get(k, 'na')}" for k in (
        "printful_calls", "printful_ideal", "cj_calls", "cj_ideal", "ali_calls", "ali_ideal"))
    print(f"catalog_pull variants={args.variants} {line} vs_rate_floor={worst:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
