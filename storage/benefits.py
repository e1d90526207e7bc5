"""The benefits catalogue: partner units and their services, other benefits; look-ups by
category, city, keyword and distance; who is eligible and why not; the seed sections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models.benefits import (
    Category,
    Level,
    OtherBenefit,
    PartnerUnit,
    ServiceKind,
    UnitService,
)

EARTH_RADIUS_KM = 6371.0
MAX_KEYWORD = 20

SYNONYMS: dict[str, tuple[Category, ...]] = {
    "医院": (Category.MEDICAL,),
    "医疗": (Category.MEDICAL,),
    "看病": (Category.MEDICAL,),
    "体检": (Category.MEDICAL,),
    "就医": (Category.MEDICAL,),
    "养老": (Category.MEDICAL,),
    "hospital": (Category.MEDICAL,),
    "medical": (Category.MEDICAL,),
    "餐饮": (Category.DINING,),
    "吃饭": (Category.DINING,),
    "饭店": (Category.DINING,),
    "餐厅": (Category.DINING,),
    "美食": (Category.DINING,),
    "dining": (Category.DINING,),
    "restaurant": (Category.DINING,),
    "住宿": (Category.LODGING,),
    "酒店": (Category.LODGING,),
    "宾馆": (Category.LODGING,),
    "民宿": (Category.LODGING,),
    "hotel": (Category.LODGING,),
    "lodging": (Category.LODGING,),
    "旅游": (Category.TRAVEL,),
    "旅行": (Category.TRAVEL,),
    "景区": (Category.TRAVEL,),
    "出行": (Category.TRAVEL,),
    "travel": (Category.TRAVEL,),
    "银行": (Category.FINANCE,),
    "金融": (Category.FINANCE,),
    "贷款": (Category.FINANCE,),
    "bank": (Category.FINANCE,),
    "finance": (Category.FINANCE,),
    "文化": (Category.CULTURE,),
    "博物馆": (Category.CULTURE,),
    "图书馆": (Category.CULTURE,),
    "看戏": (Category.CULTURE,),
    "culture": (Category.CULTURE,),
}
"""Words members type for a kind of place, so "医院" finds every medical unit and "住宿"
every hotel, even where the unit's own name says neither."""


class Ineligible:
    """Why a model worker cannot have a service (message ids)."""

    NOT_A_MODEL_WORKER = "benefits.why.not_model_worker"
    LEVEL = "benefits.why.level"
    NOT_YET = "benefits.why.not_yet"
    EXPIRED = "benefits.why.expired"


def service_problem(service: UnitService, level: str | None, today: date) -> str | None:
    """None if a worker of ``level`` (None: no verified model worker) may use the service
    today, else the message id of the first reason why not."""
    if today < service.valid_from:
        return Ineligible.NOT_YET
    if service.valid_until is not None and today > service.valid_until:
        return Ineligible.EXPIRED
    if level is None:
        return Ineligible.NOT_A_MODEL_WORKER
    if Level(level).rank < Level(service.min_level).rank:
        return Ineligible.LEVEL
    return None


def usable_services(unit: PartnerUnit, level: str | None, today: date) -> list[UnitService]:
    return [s for s in unit.services if service_problem(s, level, today) is None]


@dataclass(frozen=True)
class Found:
    unit: PartnerUnit
    distance_km: float | None = None


_SERVICES = selectinload(PartnerUnit.services)


async def units_in_category(session: AsyncSession, category: str) -> list[Found]:
    units = await session.scalars(
        select(PartnerUnit)
        .where(PartnerUnit.category == category)
        .options(_SERVICES)
        .order_by(PartnerUnit.city, PartnerUnit.name)
    )
    return [Found(unit) for unit in units]


async def units_in_city(session: AsyncSession, city: str) -> list[Found]:
    units = await session.scalars(
        select(PartnerUnit)
        .where(PartnerUnit.city == city)
        .options(_SERVICES)
        .order_by(PartnerUnit.category, PartnerUnit.name)
    )
    return [Found(unit) for unit in units]


async def count_units(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(PartnerUnit)) or 0


async def cities(session: AsyncSession) -> list[str]:
    return list(
        await session.scalars(select(PartnerUnit.city).distinct().order_by(PartnerUnit.city))
    )


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_units(session: AsyncSession, keyword: str) -> list[Found]:
    """Units whose name, address, city or services contain the keyword, or whose category
    the keyword names (see :data:`SYNONYMS`)."""
    word = keyword.strip()[:MAX_KEYWORD]
    if not word:
        return []
    pattern = _like(word)
    categories = {c for key, found in SYNONYMS.items() if key in word.lower() for c in found}
    categories |= {c for c in Category if c.value == word.lower()}
    by_service = select(UnitService.unit_id).where(UnitService.what.ilike(pattern, escape="\\"))
    units = await session.scalars(
        select(PartnerUnit)
        .where(
            or_(
                PartnerUnit.name.ilike(pattern, escape="\\"),
                PartnerUnit.address.ilike(pattern, escape="\\"),
                PartnerUnit.city.ilike(pattern, escape="\\"),
                PartnerUnit.id.in_(by_service),
                PartnerUnit.category.in_([c.value for c in categories]),
            )
        )
        .options(_SERVICES)
        .order_by(PartnerUnit.category, PartnerUnit.name)
    )
    return [Found(unit) for unit in units]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


async def nearest_units(session: AsyncSession, latitude: float, longitude: float) -> list[Found]:
    """Every located unit, nearest first. The alliance has tens of units, so distances are
    computed here rather than with a database extension, the same on SQLite and PostgreSQL."""
    units = await session.scalars(
        select(PartnerUnit).where(PartnerUnit.latitude.is_not(None)).options(_SERVICES)
    )
    found = [
        Found(unit, haversine_km(latitude, longitude, unit.latitude, unit.longitude))
        for unit in units
        if unit.latitude is not None and unit.longitude is not None
    ]
    return sorted(found, key=lambda f: (f.distance_km, f.unit.id))


async def get_unit(session: AsyncSession, unit_id: int) -> PartnerUnit | None:
    return await session.scalar(
        select(PartnerUnit).where(PartnerUnit.id == unit_id).options(_SERVICES)
    )


async def list_other_benefits(session: AsyncSession) -> list[OtherBenefit]:
    return list(await session.scalars(select(OtherBenefit).order_by(OtherBenefit.id)))


# Seed sections ---------------------------------------------------------------------------


class ServiceRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    what: str = Field(min_length=2, max_length=200)
    kind: ServiceKind
    level: Level = Level.CITY
    valid_from: date
    valid_until: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> ServiceRow:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class UnitRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=100)
    category: Category
    city: str = Field(min_length=1, max_length=40)
    address: str = Field(min_length=2, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    hours: str | None = Field(default=None, max_length=100)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    services: list[ServiceRow] | None = None
    """When given, the unit's services become exactly these; leave out to keep them."""

    @model_validator(mode="after")
    def _both_coordinates(self) -> UnitRow:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class UnitServiceRow(ServiceRow):
    """A service on its own line (CSV): ``unit`` names a unit loaded before."""

    unit: str = Field(min_length=2, max_length=100)


class BenefitRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=2, max_length=100)
    provider: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=40)
    eligible: str = Field(min_length=2, max_length=300)
    how_to_apply: str = Field(min_length=2, max_length=300)
    amount: str | None = Field(default=None, max_length=100)
    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> BenefitRow:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


def _set_service(unit: PartnerUnit, row: ServiceRow) -> None:
    service = next((s for s in unit.services if s.what == row.what), None)
    if service is None:
        service = UnitService(what=row.what)
        unit.services.append(service)
    service.kind = row.kind
    service.min_level = row.level
    service.valid_from = row.valid_from
    service.valid_until = row.valid_until


async def _unit_by_name(session: AsyncSession, name: str) -> PartnerUnit | None:
    return await session.scalar(
        select(PartnerUnit).where(PartnerUnit.name == name).options(_SERVICES)
    )


async def load_units(session: AsyncSession, rows: list[tuple[int, UnitRow]]) -> list[str]:
    for _, row in rows:
        unit = await _unit_by_name(session, row.name)
        if unit is None:
            unit = PartnerUnit(name=row.name, services=[])
            session.add(unit)
        unit.category = row.category
        unit.city, unit.address, unit.phone, unit.hours = (
            row.city,
            row.address,
            row.phone,
            row.hours,
        )
        unit.latitude, unit.longitude = row.latitude, row.longitude
        if row.services is not None:
            keep = {service.what for service in row.services}
            for old in [s for s in unit.services if s.what not in keep]:
                unit.services.remove(old)
            for service in row.services:
                _set_service(unit, service)
        await session.flush()
    return []


async def load_services(session: AsyncSession, rows: list[tuple[int, UnitServiceRow]]) -> list[str]:
    errors = []
    for line, row in rows:
        unit = await _unit_by_name(session, row.unit)
        if unit is None:
            errors.append(f"line {line}: unknown unit {row.unit!r}")
            continue
        _set_service(unit, row)
        await session.flush()
    return errors


async def load_benefits(session: AsyncSession, rows: list[tuple[int, BenefitRow]]) -> list[str]:
    for _, row in rows:
        benefit = await session.scalar(select(OtherBenefit).where(OtherBenefit.title == row.title))
        if benefit is None:
            benefit = OtherBenefit(title=row.title)
            session.add(benefit)
        for name in ("provider", "city", "eligible", "how_to_apply", "amount"):
            setattr(benefit, name, getattr(row, name))
        benefit.valid_from, benefit.valid_until = row.valid_from, row.valid_until
    await session.flush()
    return []
