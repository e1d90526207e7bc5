"""The tables. Each service keeps its models in a module here, on the shared :class:`Base`;
:mod:`storage.schema` imports them all for migrations."""

from storage.models.core import (
    SCOPED_ROLES,
    Base,
    DialogState,
    Enterprise,
    Identity,
    LinkCode,
    Member,
    Role,
    RoleGrant,
    RosterEntry,
)
from storage.models.notices import (
    Broadcast,
    BroadcastTally,
    Delivery,
    DeliveryStatus,
    MemberSettings,
    Notice,
    ReminderSubscription,
    Route,
)

__all__ = [
    "SCOPED_ROLES",
    "Base",
    "Broadcast",
    "BroadcastTally",
    "Delivery",
    "DeliveryStatus",
    "DialogState",
    "Enterprise",
    "Identity",
    "LinkCode",
    "Member",
    "MemberSettings",
    "Notice",
    "ReminderSubscription",
    "Role",
    "RoleGrant",
    "RosterEntry",
    "Route",
]
