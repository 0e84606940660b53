"""Entry point of the `hetzner-platform` command (docs/plan.md; docs/app.md for ssh/logs/exec/status)."""

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
            sub.add_argument("--show-config", action="store_true",
                             help="print the stack's values after merging its base (extends), as YAML")
        else:
            sub.add_argument("--live", action="store_true",
                             help="read current prices and availability from the Hetzner API (HCLOUD_TOKEN)")
    for name, help_text in (("ssh", "open a shell on a server as the admin user"),
                            ("logs", "show (or --follow) a service's logs"),
                            ("exec", "run a command (default: sh) in a service's running container"),
                            ("status", "show the containers of the live release on each server")):
        sub = commands.add_parser(name, help=help_text)
        source = sub.add_mutually_exclusive_group(required=True)
        source.add_argument("--stack", help="read `pulumi stack output --json --stack NAME`")
        source.add_argument("--outputs", metavar="FILE", help="a file holding `pulumi stack output --json`")
        sub.add_argument("--project-dir", default=".", help="the Pulumi project directory (for --stack)")
        sub.add_argument("--server", help="the server to use (default: the first that runs SERVICE)")
        sub.add_argument("-i", "--identity", help="SSH private key file (default: ssh's own choice)")
        sub.add_argument("-o", dest="ssh_options", action="append", default=[], metavar="KEY=VALUE",
                         help="an ssh option (repeatable), e.g. -o ProxyJump=bastion")
        sub.add_argument("--dry-run", action="store_true", help="print the ssh command instead of running it")
        if name != "ssh":
            sub.add_argument("service", metavar="SERVICE", nargs=None if name in ("logs", "exec") else "?")
        if name == "logs":
            sub.add_argument("-f", "--follow", action="store_true")
            sub.add_argument("--tail", type=int, default=200, help="lines to show (default 200)")
            sub.add_argument("--since", help="e.g. 1h or 2026-12-04T08:00:00")
        if name == "exec":
            sub.add_argument("--no-tty", action="store_true", help="no terminal (for scripts)")
            sub.add_argument("args", metavar="CMD", nargs=argparse.REMAINDER, help="command and arguments (default: sh)")
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
    if args.command in ("ssh", "logs", "exec", "status"):
        from cli.remote import Request, run_remote

        request = Request(
            command=args.command, service=getattr(args, "service", None), server=args.server,
            args=tuple(arg for arg in getattr(args, "args", []) if arg != "--") if hasattr(args, "args") else (),
            identity=args.identity, ssh_options=tuple(args.ssh_options), tty=not getattr(args, "no_tty", False),
            follow=getattr(args, "follow", False),
            tail=getattr(args, "tail", 200), since=getattr(args, "since", None),
        )
        return run_remote(request, args.stack, args.outputs, project_dir, dry_run=args.dry_run)
    if args.command == "plan":
        from cli.plan import run_plan

        return run_plan(args.stack, args.config_file, args.json, args.out, project_dir, compare=args.compare,
                        mermaid=args.mermaid, as_of=args.as_of, previous=args.previous, live_prices=args.live_prices,
                        show_config=args.show_config)
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
