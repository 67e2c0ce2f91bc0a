#!/usr/bin/env python3
"""Keeps every generated table in the docs equal to its script's output on a committed summary,
so each number in a results page traces to a `summary.json.gz` through one script.

A generated table sits between two markers in any tracked Markdown file:

    <!-- table: study_table.py docs/results/digits-orders/summary.json.gz -->
    | group | ... (the script's output, verbatim)
    <!-- /table -->

The marker names a script in scripts/ and its arguments (paths relative to the repository
root). Tables are checked (the default; exit 1 naming every stale table) or rewritten:

  python3 scripts/results_tables.py           # check
  python3 scripts/results_tables.py --write   # regenerate in place

Standard library only (like the table scripts).
"""

import pathlib
import re
import shlex
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- table: (.+?) -->\n)(.*?)(<!-- /table -->)", re.S)


def markdown_files():
    """Tracked Markdown files (or every .md under the root when git is not available)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", "*.md"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
        files = [ROOT / f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
    if not files:
        files = [p for p in ROOT.rglob("*.md") if "target" not in p.parts]
    return sorted(f for f in files if f.is_file())


def generate(command):
    """The output of `python3 scripts/COMMAND` run from the root."""
    args = shlex.split(command)
    script = ROOT / "scripts" / args[0]
    if not script.is_file():
        raise SystemExit(f"no script scripts/{args[0]}")
    done = subprocess.run([sys.executable, str(script), *args[1:]], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"scripts/{command} failed: {done.stderr.strip()}")
    return done.stdout if done.stdout.endswith("\n") else done.stdout + "\n"


def main():
    write = "--write" in sys.argv[1:]
    stale, count = [], 0
    for path in markdown_files():
        text = path.read_text()
        if "<!-- table:" not in text:
            continue

        def replace(m):
            nonlocal count
            count += 1
            want = generate(m.group(2))
            if m.group(3) != want:
                stale.append(f"{path.relative_to(ROOT)}: {m.group(2)}")
            return m.group(1) + want + m.group(4)

        new = BLOCK.sub(replace, text)
        if write and new != text:
            path.write_text(new)
    verb = "rewritten" if write else "out of date"
    for s in stale:
        print(f"{verb}: {s}")
    print(f"{count} generated table(s), {len(stale)} {verb}")
    if stale and not write:
        print("regenerate with: python3 scripts/results_tables.py --write")
        sys.exit(1)


if __name__ == "__main__":
    main()
