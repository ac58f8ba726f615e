"""Where one streaming agent's CPU goes: py-spy on the bench's load client, against `runtime emulate`.

    .venv/bin/python -m bench.profile [--client runtime|quickstart] [--seconds 30] [--out FILE] [--agents N]

Starts the emulator in a process of its own and one client process exactly as the CPU/memory case does
(`bench.load`: talk 0.5 s, listen to a 2.6 s reply, in a loop), waits for it to connect, lets it settle 3 s,
then records it with `py-spy record --nonblocking --threads --format raw` (py-spy is a dev tool: the
`bench` extra installs it; it needs ptrace, which root has). `--out` gets the collapsed stacks (one line per
stack with its sample count); the summary printed is the share of samples by leaf frame and by thread, and
the CPU the client used over the same window (psutil), so the profile and the bench speak of one thing.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.load import emulator_process, read_line, stop
from bench.runs import REPO, child_env, client_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--client", choices=["runtime", "quickstart"], default="runtime")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--agents", type=int, default=1)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25, help="leaf frames to print")
    parser.add_argument(
        "--gil", action="store_true", help="sample only the thread holding the GIL (Python code running)"
    )
    parser.add_argument("--out", type=Path, help="write py-spy's collapsed stacks here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with emulator_process() as endpoint, tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        command = [*client_command(args.client), "--base-url", endpoint.base_url]
        command += ["--ca-file", str(endpoint.ca_file), "--plan", "load", "--agents", str(args.agents)]
        client = subprocess.Popen(command, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, text=True)
        try:
            if read_line(client, 60) != "ready":
                print("the client did not connect", file=sys.stderr)
                return 1
            time.sleep(3)  # a measurement window, not synchronisation: let the connection settle
            out = args.out or Path(tmp) / "profile.txt"
            import psutil  # type: ignore[import-untyped]

            watched = psutil.Process(client.pid)
            before, started = watched.cpu_times(), time.monotonic()
            record = [py_spy, "record", "--pid", str(client.pid), "--duration", str(args.seconds), "--rate",
                      str(args.rate), "--nonblocking", *(["--gil"] if args.gil else []), "--threads"]
            record += ["--format", "raw", "--output", str(out)]
            subprocess.run(record, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            after, elapsed = watched.cpu_times(), time.monotonic() - started
            busy = (after.user + after.system - before.user - before.system) / elapsed
            print(f"{args.client}, {args.agents} agent(s): {100 * busy:.1f} % of a core over {elapsed:.1f} s "
                  f"(user {after.user - before.user:.2f} s, system {after.system - before.system:.2f} s)")
            print(summary(out.read_text(), args.top))
        finally:
            stop(client)
    return 0


def summary(collapsed: str, top: int) -> str:
    """Busy samples (idle frames left out) by leaf function and by thread, as shares of all busy samples."""
    leaves: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        leaf = frames[-1]
        if _idle(leaf):
            continue
        count = int(count_text)
        leaves[leaf] += count
        threads[frames[0].split(": ", 1)[-1]] += count
        ours = [frame for frame in frames if "/runtime/" in frame or "bench/" in frame]
        if ours:
            own[ours[-1]] += count
    total = sum(leaves.values()) or 1
    lines = [f"busy samples: {total}", "by thread:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in threads.most_common(10)]
    lines.append("by leaf frame:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in leaves.most_common(top)]
    lines.append("by innermost frame of the runtime or the bench (what of ours led there):")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


def _idle(leaf: str) -> bool:
    return any(word in leaf for word in ("select (", "poll (", "wait (", "_wait_for_tstate_lock", "sleep ("))


if __name__ == "__main__":
    sys.exit(main())
