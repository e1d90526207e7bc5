"""Benefits: the model-worker alliance's partner units and services, other union benefits,
the model-worker register, claims, issued codes and the services used with them.

Rules from the domain (DOMAIN.md §3): alliance units give city-level and higher model
workers priority, quality and favourable-price service (三优) from a start date; a worker
proves who they are with a short-lived model-worker code (劳模码).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.core import Base, _in
from storage.types import utcnow


class Category(StrEnum):
    MEDICAL = "medical"
    DINING = "dining"
    LODGING = "lodging"
    TRAVEL = "travel"
    FINANCE = "finance"
    CULTURE = "culture"
    OTHER = "other"


class ServiceKind(StrEnum):
    """The three kinds of service the alliance promises: 优先、优质、优厚."""

    PRIORITY = "priority"
    QUALITY = "quality"
    PRICE = "price"


class Level(StrEnum):
    """A model worker's title level, lowest first."""

    CITY = "city"
    PROVINCIAL = "provincial"
    NATIONAL = "national"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


class PartnerUnit(Base):
    __tablename__ = "partner_units"
    __table_args__ = (
        CheckConstraint(_in("category", tuple(Category)), name="category"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="both_coordinates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str] = mapped_column(String(16), index=True)
    city: Mapped[str] = mapped_column(String(40), index=True)
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    hours: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]

    services: Mapped[list[UnitService]] = relationship(
        back_populates="unit", order_by="UnitService.id", cascade="all, delete-orphan"
    )


class UnitService(Base):
    __tablename__ = "unit_services"
    __table_args__ = (
        UniqueConstraint("unit_id", "what"),
        CheckConstraint(_in("kind", tuple(ServiceKind)), name="kind"),
        CheckConstraint(_in("min_level", tuple(Level)), name="min_level"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("partner_units.id", ondelete="CASCADE"))
    what: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    min_level: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date]
    valid_until: Mapped[date | None]

    unit: Mapped[PartnerUnit] = relationship(back_populates="services")


class OtherBenefit(Base):
    """A union or enterprise benefit outside the alliance: a fund, training, a competition."""

    __tablename__ = "other_benefits"
    __table_args__ = (CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", "dates"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
    provider: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(40))
    eligible: Mapped[str] = mapped_column(String(300))
    how_to_apply: Mapped[str] = mapped_column(String(300))
    amount: Mapped[str | None] = mapped_column(String(100))
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]


class ModelWorker(Base):
    """One entry of the model-worker register. The national ID number is kept only as a
    keyed hash (HMAC-SHA256 with a pepper from the key directory), never in the clear."""

    __tablename__ = "model_workers"
    __table_args__ = (
        CheckConstraint(_in("level", tuple(Level)), name="level"),
        CheckConstraint("year BETWEEN 1950 AND 2100", name="year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(40))
    year: Mapped[int]
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), unique=True
    )
    claimed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ClaimAttempt(Base):
    """A member's try to match the register, counted for the member's daily limit, for the
    lock of the entry it aimed at (by ID number: ``worker_id``; by name: ``name_hash``, a
    keyed hash, so the names people typed are not kept) and for the overall pause."""

    __tablename__ = "model_worker_claims"
    __table_args__ = (
        Index("ix_model_worker_claims_member", "member_id", "attempted_at"),
        Index("ix_model_worker_claims_name", "name_hash", "attempted_at"),
        Index("ix_model_worker_claims_worker", "worker_id", "attempted_at"),
        Index("ix_model_worker_claims_time", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    matched: Mapped[bool]
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_workers.id", ondelete="CASCADE")
    )
    name_hash: Mapped[str | None] = mapped_column(String(64))


class WorkerCode(Base):
    """An issued model-worker code: the signed token and its short numeric form."""

    __tablename__ = "model_worker_codes"
    __table_args__ = (CheckConstraint("expires_at > issued_at", name="lifetime"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[str] = mapped_column(String(24), unique=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("model_workers.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class CodeCheck(Base):
    """A partner-unit staff account checked a code (any answer): counted for the limit on
    checks a minute, so numbers cannot be guessed by trying them."""

    __tablename__ = "model_worker_checks"
    __table_args__ = (Index("ix_model_worker_checks_staff", "staff_member_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceUse(Base):
    """A verification at a partner unit: who, where, which service, when."""

    __tablename__ = "service_uses"
    __table_args__ = (
        UniqueConstraint("code_id", "unit_id"),
        Index("ix_service_uses_worker", "worker_id", "used_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("model_workers.id", ondelete="CASCADE"))
    code_id: Mapped[int] = mapped_column(ForeignKey("model_worker_codes.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("partner_units.id", ondelete="CASCADE"))
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit_services.id", ondelete="SET NULL")
    )
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
