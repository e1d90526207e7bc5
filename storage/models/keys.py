"""Which key folder belongs to this database.

The keys live apart from the database (``UNIONBOT_KEY_DIR``), yet the database's rows
depend on them: the register's hashes on the pepper, handed-out codes on the signing key.
The fingerprint of the folder's own key, recorded on first use, ties the two, so a run
with another folder (a relative path from another directory) is refused instead of
quietly making new keys that match nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base
from storage.types import utcnow


class KeyFolder(Base):
    __tablename__ = "key_folder"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
