"""The command line: ``python -m data_bridge migrate|rollback|status|new``.

    python -m data_bridge migrate  [--dir migrations/] [--url URL] [--target V] [--repair]
                                   [--ignore-missing] [--single-transaction]
    python -m data_bridge rollback [--dir migrations/] [--url URL] [--steps N | --target V]
    python -m data_bridge status   [--dir migrations/] [--url URL]
    python -m data_bridge new NAME [--dir migrations/] [--irreversible]

``--url`` defaults to ``$DATABASE_URL`` (else libpq's ``PG*`` variables). Exit codes: 0 done,
1 an error (a failing migration, a changed checksum, no connection, a bad folder, ...), 2 bad
arguments, 3 (``status``) problems found or, with
``--check``, migrations pending.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Sequence

from . import errors
from .migrations import Step, migrate, migration_status, new_migration, rollback


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_bridge", description="data-bridge schema migrations")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--dir", default="migrations/", help="the migrations folder (default: migrations/)")
        if name != "new":
            sub.add_argument("--url", default=None, help="database URL (default: $DATABASE_URL, else PG* variables)")
        return sub

    up = command("migrate", "apply pending migrations")
    up.add_argument("--target", type=int, help="apply up to this version only")
    up.add_argument("--repair", action="store_true", help="record the new checksum of changed applied files")
    up.add_argument("--ignore-missing", action="store_true", help="go on when applied migrations are not in the folder")
    up.add_argument("--single-transaction", action="store_true", help="all migrations in one transaction")
    down = command("rollback", "revert applied migrations, latest first")
    how = down.add_mutually_exclusive_group()
    how.add_argument("--steps", type=int, help="how many to revert (default 1)")
    how.add_argument("--target", type=int, help="revert every migration above this version (0: all)")
    down.add_argument("--single-transaction", action="store_true", help="all of them in one transaction")
    status = command("status", "list applied and pending migrations, and problems")
    status.add_argument("--check", action="store_true", help="exit 3 when migrations are pending too")
    new = command("new", "create NNNN_NAME.up.sql and .down.sql with the next version")
    new.add_argument("name")
    new.add_argument("--irreversible", action="store_true", help="create only the .up.sql file")
    return parser


def _report(verb: str, steps: List[Step]) -> None:
    if not steps:
        print(f"nothing to {verb}")
    for step in steps:
        print(f"{verb:>8} {step.file} ({step.elapsed.total_seconds() * 1000:.1f} ms)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "migrate":
            _report("apply", migrate(args.url, args.dir, args.target, repair=args.repair,
                                     ignore_missing=args.ignore_missing,
                                     single_transaction=args.single_transaction))
        elif args.command == "rollback":
            _report("revert", rollback(args.url, args.dir, args.steps, target=args.target,
                                       single_transaction=args.single_transaction))
        elif args.command == "status":
            status = migration_status(args.url, args.dir)
            print(status)
            if status.problems or (args.check and status.pending):
                return 3
        elif args.command == "new":
            for path in new_migration(args.dir, args.name, reversible=not args.irreversible):
                print(f"created {path}")
    except (errors.Error, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
