"""The llgrad command line: `python -m llgrad` (or the `llgrad` console script).

    llgrad cache info                     where the kernel cache is, its entries, size, ages
    llgrad cache clear                    remove every entry
    llgrad cache prune --max-size SIZE    remove least recently used entries down to SIZE
    llgrad bench [ARGS...]                 benchmarks: everything after `bench` goes to
                                          llgrad.bench.main(ARGS)

`--dir DIR` on each cache command overrides $LLGRAD_CACHE_DIR for that command.

Adding a command whose module owns its own arguments (as `bench` does): list it in
`DELEGATED` below; `main` hands it the rest of the command line untouched, importing the module
only when the command runs.
"""
import argparse
import datetime
import importlib
import os
import sys

from .runtime import cache


def _size_text(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _when(timestamp):
    if timestamp is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _size_argument(text):
    try:
        return cache.parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# Commands implemented by another module's `main(argv)`: name -> (module, one-line help).
DELEGATED = {
    "bench": ("llgrad.bench", "run llgrad's benchmarks (`llgrad bench --help` for its options)"),
}


def parser():
    top = argparse.ArgumentParser(
        prog="llgrad", description="llgrad's command line: manage the on-disk kernel cache, "
                                   "run benchmarks.")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in DELEGATED.items():  # listed in --help; main() dispatches them
        commands.add_parser(name, help=help_text, add_help=False)
    cache_parser = commands.add_parser(
        "cache", help="the on-disk kernel cache (info, clear, prune)",
        description="The on-disk cache of compiled kernels: $LLGRAD_CACHE_DIR, else "
                    "$XDG_CACHE_HOME/llgrad, else ~/.cache/llgrad. LLGRAD_CACHE=0 turns it "
                    "off; LLGRAD_CACHE_MAX_SIZE (default 1G) bounds it.")
    actions = cache_parser.add_subparsers(dest="action", metavar="ACTION")

    def action(name, help_text, description):
        sub = actions.add_parser(name, help=help_text, description=description)
        sub.add_argument("--dir", metavar="DIR",
                         help="the cache directory (default: $LLGRAD_CACHE_DIR or the per-user "
                              "cache directory)")
        return sub

    action("info", "where the cache is, its entries, total size, oldest and newest use",
           "Show where the kernel cache is, how many entries it holds and of which kind, their "
           "total size, when the least and the most recently used entry was last used, and "
           "temp files left by interrupted writers.")
    action("clear", "remove every entry (and leftover temp files)",
           "Remove every entry of the kernel cache, and temp files left by interrupted "
           "writers. Running programs keep the code they loaded.")
    prune = action("prune", "remove least recently used entries down to a size",
                   "Remove the least recently used entries until the cache holds at most SIZE, "
                   "and temp files left by writers that died.")
    prune.add_argument("--max-size", metavar="SIZE", type=_size_argument, required=True,
                       help="the size to keep, e.g. 500M, 2G, 1.5GiB or bytes (K, M, G, T: "
                            "powers of 1024)")
    top.set_defaults(cache_parser=cache_parser)
    return top


def main(argv=None):
    """Run the command line on `argv` (default: sys.argv[1:]); returns the exit status."""
    try:
        return _run(argv)
    except BrokenPipeError:  # `llgrad cache info | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _delegate(name, argv):
    """Run `name`'s module's main(argv), importing it only now."""
    module_name = DELEGATED[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name not in (module_name, module_name.rpartition(".")[0]):
            raise  # the module exists but something it imports does not: show that
        print(f"llgrad {name}: this llgrad has no {module_name} module, so `llgrad {name}` "
              f"is not available", file=sys.stderr)
        return 2
    status = module.main(list(argv))
    return 0 if status is None else status


def _run(argv):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    top = parser()
    args = top.parse_args(argv)
    if args.command != "cache":
        top.print_help(sys.stderr)
        return 2
    if args.action is None:
        args.cache_parser.print_help(sys.stderr)
        return 2
    folder = os.path.abspath(os.path.expanduser(args.dir)) if args.dir else cache.directory()
    if args.action == "info":
        found = cache.info(folder)
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(found["kinds"].items())) or "none"
        state = "on" if found["enabled"] else "off (LLGRAD_CACHE=0)"
        where = "" if found["exists"] else (
            " (a file, not a directory: the cache cannot be used)" if os.path.exists(folder)
            else " (does not exist yet)")
        print(f"location:    {found['directory']}{where}")
        print(f"disk cache:  {state}")
        print(f"entries:     {found['entries']} ({kinds})")
        print(f"total size:  {_size_text(found['bytes'])} of {_size_text(found['max_bytes'])} "
              f"(LLGRAD_CACHE_MAX_SIZE)")
        print(f"oldest:      {_when(found['oldest'])} (least recently used)")
        print(f"newest:      {_when(found['newest'])} (most recently used)")
        if found["temp_files"]:
            print(f"temp files:  {found['temp_files']} (writes in progress, or left by "
                  f"interrupted ones; prune removes those older than an hour)")
        return 0
    if args.action == "clear":
        count, freed = cache.clear(folder)
        print(f"removed {count} file{'s' * (count != 1)} ({_size_text(freed)}) from {folder}")
        return 0
    before = cache.scan(folder)[0]
    removed, remaining = cache.prune(args.max_size, folder)
    print(f"removed {removed} of {len(before)} entr{'ies' if len(before) != 1 else 'y'}; "
          f"{_size_text(remaining)} left in {folder} (limit {_size_text(args.max_size)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
