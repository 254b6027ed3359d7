"""The `zerocancer` command: one subcommand per process, imported lazily.

`zerocancer edge` must not load actor code (and `zerocancer worker` no Sanic), so each
subcommand names its entry point as a "module:function" string and imports it on use.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

#: subcommand -> (entry point, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "edge": ("edge.__main__:main", "run the HTTP edge (Sanic)"),
    "worker": ("actors.worker:main", "run Dramatiq workers [--queues q ...]"),
    "relay": ("actors.contracts.relay:main", "move outbox rows to RabbitMQ"),
    "scheduler": ("actors.scheduler:main", "enqueue scheduled jobs (one leader)"),
    "migrate": ("models.migrate:main", "apply database migrations"),
    "seed": ("models.seed:main", "load demo data (idempotent)"),
    "dev": ("devserver:main", "everything in one process on embedded defaults"),
    "admin": ("actors.admin_cli:main", "operator commands (bulk import/export, requeue)"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "usage: zerocancer <command> [options]\n\ncommands:\n" + "\n".join(lines)


def resolve(entry_point: str) -> Callable[[Sequence[str]], int]:
    module_name, _, attribute = entry_point.partition(":")
    module = importlib.import_module(module_name)
    function: Callable[[Sequence[str]], int] = getattr(module, attribute)
    return function


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"zerocancer: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return resolve(COMMANDS[name][0])(rest)


if __name__ == "__main__":
    sys.exit(main())
