"""Entry point of the `hetzner-platform` command (see README: plan and cost)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import warnings
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hetzner-platform", description="Offline plan and cost report for a stack.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("plan", "show resources, host steps, cost and capacity without a cloud account"),
                            ("cost", "show the cost breakdown, budget headroom and upgrade options")):
        sub = commands.add_parser(name, help=help_text)
        source = sub.add_mutually_exclusive_group(required=True)
        source.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml in the project directory")
        source.add_argument("--config-file", help="any stack file in the Pulumi.<stack>.yaml format")
        sub.add_argument("--project-dir", default=".", help="directory holding the Pulumi.<stack>.yaml files")
        sub.add_argument("--as-of", metavar="YYYY-MM-DD", type=_iso_date,
                         help="price for this date instead of today (overrides pricing.asOf); "
                              "generated files and tests use it so their figures do not change with the calendar")
        if name == "plan":
            sub.add_argument("--json", action="store_true", help="print one JSON document")
            sub.add_argument("--out", metavar="DIR", help="write every rendered host file into DIR")
            sub.add_argument("--compare", metavar="BASE_JSON", help="print a markdown cost and resource diff against a saved `plan --json`")
            sub.add_argument("--mermaid", action="store_true", help="print a Mermaid diagram of the stack")
            sub.add_argument("--previous", metavar="OUTPUTS_JSON",
                             help="the last deployment's outputs (`pulumi stack output --json --show-secrets`, or a "
                                  "`plan --json` document): run the deployment guard and day-2 checks against them")
            sub.add_argument("--live-prices", action="store_true",
                             help="read current prices and availability from the Hetzner API (HCLOUD_TOKEN); "
                                  "without it the plan makes no network call")
        else:
            sub.add_argument("--live", action="store_true",
                             help="read current prices and availability from the Hetzner API (HCLOUD_TOKEN)")
    return parser


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # pulumi_cloudflare emits ~70 DeprecationWarnings on import; they are noise for users.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    project_dir = Path(args.project_dir)
    if args.command == "plan":
        from cli.plan import run_plan

        return run_plan(args.stack, args.config_file, args.json, args.out, project_dir, compare=args.compare,
                        mermaid=args.mermaid, as_of=args.as_of, previous=args.previous, live_prices=args.live_prices)
    from cli.cost_command import run_cost

    return run_cost(args.stack, args.config_file, project_dir, as_of=args.as_of, live=args.live)


def run() -> None:
    """Console entry point. Exits hard after flushing: Pulumi's mock runtime leaves an event loop and
    worker threads behind whose teardown at interpreter exit is slow and prints spurious errors."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
