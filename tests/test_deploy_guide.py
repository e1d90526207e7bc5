"""The deployment guide stays true: linked from the README, its commands are commands the
CLI has, and its metrics table names exactly the metrics ``/metrics`` serves."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.metrics import exposition
from unionbot.cli import COMMANDS, parser

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "deploy.md"
COMMAND = re.compile(r"(?:^|[\s/`])unionbot ([a-z-]+(?: [^\s#`|;&]+)*)", re.MULTILINE)


def test_the_readme_links_the_guide() -> None:
    assert "(docs/deploy.md)" in (ROOT / "README.md").read_text()


def test_every_command_in_the_guide_parses() -> None:
    found = [m.group(1) for m in COMMAND.finditer(GUIDE.read_text())]
    assert len(found) > 10
    for command in found:
        plain = re.sub(r"\$\([^)]*\)", "X", command)
        words = ["1" if "$" in w or "%" in w else w for w in plain.strip("'\"").split()]
        if words[0] not in COMMANDS:
            continue
        parser().parse_args(words)
    assert {"serve", "db", "doctor", "invite", "backup", "restore"} <= {c.split()[0] for c in found}


async def test_the_metrics_table_names_what_metrics_serves(app: App) -> None:
    served = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families((await exposition(app.engine)).decode())
        if family.name.startswith("unionbot_") and not family.name.endswith("_created")
    }
    documented = set(re.findall(r"^\| `(unionbot_[a-z_]+)", GUIDE.read_text(), re.MULTILINE))
    assert documented == served
