"""Import data from YAML or CSV files: the demo data and officers' catalogues.

A YAML file is a mapping of sections (``enterprises:``, ``members:``...), each a list of
rows; a CSV file holds one section, named by the file (``enterprises.csv``). Each section
has a row model that validates it and a loader that upserts by a natural key, so running
an import twice changes nothing. A file with any bad row imports nothing: every error is
reported with its line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import (
    bargaining_seed,
    benefits,
    core_seed,
    memberships,
    model_workers,
    notices_seed,
    singles_seed,
)

DEMO_DIR = Path(__file__).resolve().parent / "demo"
MAX_SEED_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Section:
    model: type[BaseModel]
    load: Callable[[AsyncSession, list[tuple[int, Any]]], Awaitable[list[str]]]
    """Upserts validated rows, each with its line; returns errors found against the database."""


SECTIONS: dict[str, Section] = {
    "enterprises": Section(core_seed.EnterpriseRow, core_seed.load_enterprises),
    "members": Section(core_seed.MemberRow, core_seed.load_members),
    "roster": Section(memberships.RosterRow, memberships.load_roster),
    "events": Section(singles_seed.EventRow, singles_seed.load_events),
    "profiles": Section(singles_seed.ProfileRow, singles_seed.load_profiles),
    "units": Section(benefits.UnitRow, benefits.load_units),
    "services": Section(benefits.UnitServiceRow, benefits.load_services),
    "benefits": Section(benefits.BenefitRow, benefits.load_benefits),
    "model_workers": Section(model_workers.ModelWorkerRow, model_workers.load_model_workers),
    "unit_staff": Section(model_workers.UnitStaffRow, model_workers.load_unit_staff),
    "bargaining": Section(bargaining_seed.BargainingRow, bargaining_seed.load_sessions),
    "notices": Section(notices_seed.NoticeRow, notices_seed.load_notices),
}
"""Sections in the order they load, so later ones can refer to earlier ones by name."""


class SeedError(Exception):
    def __init__(self, path: Path, errors: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(errors))
        self.path = path
        self.errors = errors


@dataclass(frozen=True)
class Row:
    line: int
    data: dict[str, Any]


def read_seed_file(path: Path) -> dict[str, list[Row]]:
    """Parse a file into its sections' rows, or raise :class:`SeedError`."""
    raw = path.read_bytes()
    if len(raw) > MAX_SEED_BYTES:
        raise SeedError(path, [f"file is larger than {MAX_SEED_BYTES // 1024 // 1024} MB"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SeedError(path, [f"line {line}: not valid UTF-8 (byte {error.start})"]) from None
    if path.suffix.lower() == ".csv":
        return {path.stem: _read_csv(text)}
    if path.suffix.lower() in (".yaml", ".yml"):
        return _read_yaml(path, text)
    raise SeedError(path, ["unknown file type: use .yaml, .yml or .csv"])


def _read_csv(text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    return [
        Row(reader.line_num, {k: v for k, v in row.items() if k and v not in (None, "")})
        for row in reader
    ]


def _read_yaml(path: Path, text: str) -> dict[str, list[Row]]:
    try:
        document = yaml.safe_load(text)
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise SeedError(path, [f"{where}not valid YAML"]) from None
    if not isinstance(document, dict) or not isinstance(tree, yaml.MappingNode):
        raise SeedError(path, ["expected a mapping of sections, e.g. 'members:'"])
    sections: dict[str, list[Row]] = {}
    for (key, value), name in zip(tree.value, document, strict=True):
        rows = document[name]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise SeedError(
                path, [f"line {key.start_mark.line + 1}: section {name}: expected a list of rows"]
            )
        lines = [item.start_mark.line + 1 for item in value.value]
        sections[str(name)] = [Row(line, row) for line, row in zip(lines, rows, strict=True)]
    return sections


async def import_file(session: AsyncSession, path: Path) -> dict[str, int]:
    """Validate and load one file inside the caller's transaction; counts rows per section."""
    sections = read_seed_file(path)
    errors = [f"unknown section {name!r}" for name in sections if name not in SECTIONS]
    validated: dict[str, list[tuple[int, Any]]] = {}
    for name, section in SECTIONS.items():
        for row in sections.get(name, []):
            try:
                item = section.model.model_validate(row.data)
            except ValidationError as error:
                errors += [_describe(row.line, problem) for problem in error.errors()]
                continue
            validated.setdefault(name, []).append((row.line, item))
    if errors:
        raise SeedError(path, errors)
    for name, items in validated.items():
        errors += await SECTIONS[name].load(session, items)
    if errors:
        raise SeedError(path, errors)
    return {name: len(items) for name, items in validated.items()}


def _describe(line: int, problem: Any) -> str:
    field = ".".join(str(part) for part in problem["loc"])
    return f"line {line}: {field}: {problem['msg']}"


def demo_files() -> list[Path]:
    return sorted(DEMO_DIR.glob("*.yaml"))
