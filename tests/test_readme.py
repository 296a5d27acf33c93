"""README's two set-up commands are the ones CI runs, and its quality table is the measured one."""

import json
from pathlib import Path

from converters import quality

ROOT = Path(__file__).resolve().parent.parent


def shell_lines(text):
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = shell_lines(block)
    assert len(commands) == 2
    ci = shell_lines((ROOT / ".ci" / "run").read_text())
    assert ci[-2:] == commands
    assert ci[:-2] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."']  # nothing CI does that the README does not


def test_the_readme_shows_the_results_tools_results_wrote():
    """README's quality table is the brief one of what `tools/results.py` last wrote, and
    docs/results.md its full tables."""
    tables = json.loads((ROOT / "docs" / "results.json").read_text())["tables"]
    assert quality.summary(tables) in (ROOT / "README.md").read_text()
    assert all(f"| {label} |" in (ROOT / "docs" / "results.md").read_text()
               for t in tables.values() for label in t["models"])
