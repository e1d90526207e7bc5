"""Where a member last was, as their platform reported it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base


class LastPlace(Base):
    """A member's last known place: WeChat's LOCATION event, sent when the member lets the
    account know where they are. One row per member, replaced each time, shown to nobody
    and kept no longer than the member; services that list what is nearest offer it."""

    __tablename__ = "member_places"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]
