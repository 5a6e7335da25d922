"""Rerun the README's console sessions and put their real output back in it.

    .venv/bin/python tools/readme_sessions.py            # rerun in a fresh clone, print the diff
    .venv/bin/python tools/readme_sessions.py --write    # ... and write README.md

Every ```console block of README.md whose lines start with ``$ `` is a session: each
command runs, in README order, in a fresh clone of this repository (so the stores start
empty, as a new user's do) with ``.venv/bin`` first on PATH, 120 columns, stdout and
stderr together; its output replaces the lines under it. ``make demo`` runs whole and
is shown from the line that starts the demo on (``...`` stands for the install).
Commands of the benchmark block (``.venv/bin/python bench/…``, ``pip install``) are not
run. The PostgreSQL session's schema ``plancast`` is dropped first, so its demo runs on
an empty schema as it would for a new user. Timings in the output (``(0.05 s)``) are
real and change from run to run.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = re.compile(r"^(\.venv/bin/python bench/|\.venv/bin/pip )")
PG = "postgresql://postgres@127.0.0.1:5432/test"


def _complete(cmd: str) -> bool:
    try:
        shlex.split(cmd)
    except ValueError:
        return False
    return True


def sessions(lines: list[str]) -> list[tuple[int, int, list[tuple[str, int, int]]]]:
    """(block start, block end, [(command, first output line, end of output)]) per console block with
    commands; line numbers index ``lines``."""
    out = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        cmds: list[tuple[str, int, int]] = []
        j = i + 1
        while j < end:
            if lines[j].startswith("$ "):
                cmd, k = lines[j][2:], j + 1
                while not _complete(cmd) and k < end:
                    cmd += "\n" + lines[k]
                    k += 1
                nxt = next((m for m in range(k, end) if lines[m].startswith("$ ")), end)
                cmds.append((cmd, k, nxt))
                j = nxt
            else:
                j += 1
        if cmds:
            out.append((i, end, cmds))
        i = end + 1
    return out


def run(cmd: str, cwd: Path) -> str:
    env = {**os.environ, "COLUMNS": "120", "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PLANCAST_AUTHOR": os.environ.get("PLANCAST_AUTHOR", "Dana (RevOps)")}
    if cmd.split()[:2] == ["make", "demo"]:
        # the clone has no .venv of its own: use this checkout's, as `make demo` would after installing
        (cwd / ".venv").symlink_to(ROOT / ".venv")
        (cwd / ".venv" / ".installed").touch()
    if "schema=plancast" in cmd:
        import sqlalchemy as sa

        with sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://")).begin() as c:
            c.execute(sa.text('DROP SCHEMA IF EXISTS "plancast" CASCADE'))
    # one pipe for both streams, unbuffered, so warnings and results come in the order a terminal shows
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env={**env, "PYTHONUNBUFFERED": "1"},
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    text = r.stdout
    if cmd.split()[:2] == ["make", "demo"]:
        lines = text.splitlines()
        start = next(i for i, ln in enumerate(lines) if "plancast --db plancast.duckdb demo" in ln)
        text = "\n".join(["...", *lines[start:]])
    return text.rstrip("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write README.md (default: print the diff)")
    a = ap.parse_args()
    readme = ROOT / "README.md"
    lines = readme.read_text().splitlines()
    with tempfile.TemporaryDirectory(prefix="plancast-readme-") as tmp:
        # the clone sits beside a link to ../shared, as the checkout does, so ../shared/data paths resolve
        work = Path(tmp) / "main"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
        if (ROOT.parent / "shared").exists():
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
        replaced: dict[int, tuple[int, list[str]]] = {}
        for _, _, cmds in sessions(lines):
            for cmd, first, end in cmds:
                if SKIP.match(cmd):
                    continue
                print(f"$ {cmd.splitlines()[0]}", file=sys.stderr, flush=True)
                out = run(cmd, work)
                replaced[first] = (end, out.splitlines() if out else [])
    new: list[str] = []
    i = 0
    while i < len(lines):
        if i in replaced:
            end, out = replaced[i]
            new += out
            i = end
        else:
            new.append(lines[i])
            i += 1
    text = "\n".join(new) + "\n"
    if a.write:
        readme.write_text(text)
        print("wrote README.md", file=sys.stderr)
    else:
        sys.stdout.writelines(difflib.unified_diff(readme.read_text().splitlines(True), text.splitlines(True),
                                                   "README.md", "README.md (rerun)"))


if __name__ == "__main__":
    main()
