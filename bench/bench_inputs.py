"""Input parsers under hostile input: the config error-line lookup and the .env parser stay linear, and
nested ``${VAR}`` expansion is refused at its bound instead of growing to gigabytes.

Each case is timed at two sizes (and against a plain file of the same size) in the same run, and the
ratios are printed: linear work grows by the size ratio, and a crafted file costs what a plain one does.

    python bench/bench_inputs.py [--rounds 5]

Reference (issue 14, before): a 4 KB crafted TOML took 32.6 s to be rejected (94.8 s on the machine this
bench was written on; cubic: x8 per doubling) and a 484-byte .env of ``${L}${L}`` lines expanded to 1 G
characters (2.9 GB RSS).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from doctor import dotenv  # noqa: E402
from doctor.config import ConfigError, _line_of, load_config  # noqa: E402


def timed(fn: Callable[[], object], rounds: int) -> float:
    """Median seconds of ``rounds`` calls, with the garbage collector off as timeit does (its passes over
    the many small objects of a 1 MB parse would make the size ratio measure the collector, not the parser)."""
    out = []
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return statistics.median(out)


def crafted_toml(size: int) -> str:
    """A multi-line string of '[' + blanks lines (each looked like a table header to the old regex), then an
    unknown key: rejected, and its line looked up."""
    line = "[" + " \t" * 2000 + "a\n"
    return 'x = """\n' + line * max(1, size // len(line)) + '"""\n'


def plain_toml(size: int) -> str:
    line = "# " + "c" * 78 + "\n"
    return line * max(1, size // len(line)) + "x = 1\n"


def reject(path: Path) -> None:
    try:
        load_config(path)
    except ConfigError:
        return
    raise AssertionError(f"{path} was accepted")


def env_text(size: int) -> str:
    """A realistic .env: plain values, quoted values and ${VAR} references to earlier keys."""
    lines = ["APP_NAME=ame", "APP_URL=https://${APP_NAME}.example.com"]
    i = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f'K{i}="value {i} of ${{APP_NAME}} at ${{APP_URL}}" # comment')
        i += 1
    return "\n".join(lines) + "\n"


def bomb(levels: int) -> str:
    return "\n".join(["L0=0123456789abcdef", *(f"L{i}=${{L{i - 1}}}${{L{i - 1}}}" for i in range(1, levels + 1))])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    small, large = 4 << 10, 64 << 10
    texts = {"crafted-4k": crafted_toml(small), "crafted-64k": crafted_toml(large), "plain-64k": plain_toml(large)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "crafted-4k.toml")
        path.write_text(texts["crafted-4k"], encoding="utf-8")
        whole = timed(lambda: reject(path), args.rounds)
    c4, c64, p64 = (timed(lambda t=texts[n]: _line_of(t, ("x",)), args.rounds)  # type: ignore[misc]
                    for n in ("crafted-4k", "crafted-64k", "plain-64k"))
    print("config: a crafted TOML rejected, its error line looked up (the part that was cubic)")
    print(f"  crafted 4 KB, whole load_config: {whole * 1000:8.2f} ms   (issue 14, before: 32.6 s)")
    print(f"  lookup, crafted 4 KB:  {c4 * 1000:8.3f} ms")
    print(f"  lookup, crafted 64 KB: {c64 * 1000:8.3f} ms   64 KB / 4 KB = {c64 / c4:5.1f}x for 16x the size "
          "(linear <= ~16; cubic was 4096x)")
    print(f"  lookup, plain 64 KB:   {p64 * 1000:8.3f} ms   crafted / plain = {c64 / p64:5.1f}x (target: ~1)")

    envs = {n: env_text(n) for n in (64 << 10, 1 << 20)}
    e64, e1m = (timed(lambda t=envs[n]: dotenv.parse(t), args.rounds) for n in envs)  # type: ignore[misc]
    refs = timed(lambda: dotenv.parse("A=ab\nB=" + "${A}-" * 10_000 + "\n"), args.rounds)

    def refused() -> None:
        try:
            dotenv.parse(bomb(30))
        except dotenv.DotenvLimitError:
            return
        raise AssertionError("the expansion bomb was accepted")

    b = timed(refused, args.rounds)
    print(".env: phpdotenv's rules, linear, expansion bounded")
    print(f"  64 KB file: {e64 * 1000:8.2f} ms")
    print(f"  1 MB file:  {e1m * 1000:8.2f} ms   1 MB / 64 KB = {e1m / e64:5.1f}x for 16x the size (linear <= ~16)")
    print(f"  one value with 10,000 ${{A}} references: {refs * 1000:.2f} ms")
    print(f"  {len(bomb(30))}-byte nested ${{L}}${{L}} file (30 levels, 17 G characters unbounded): refused in "
          f"{b * 1000:.2f} ms at {dotenv.MAX_VALUE_CHARS} characters (issue 14, before: 1 G characters, 2.9 GB RSS "
          "from 484 bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
