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
    QueuedMessage,
    Role,
    RoleGrant,
)

__all__ = [
    "SCOPED_ROLES",
    "Base",
    "DialogState",
    "Enterprise",
    "Identity",
    "LinkCode",
    "Member",
    "QueuedMessage",
    "Role",
    "RoleGrant",
]
