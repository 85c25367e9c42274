"""How database failures surface: as the product's errors, never as raw SQLAlchemy exceptions."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from intrablog.errors import Conflict, IntrablogError, Unavailable

UNAVAILABLE = "database unavailable"


def domain_error(exc: BaseException) -> IntrablogError | None:
    """The product error a database failure means, or None when it is a bug to let through as is."""
    if isinstance(exc, IntegrityError):
        return Conflict("the change conflicts with stored data")
    if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError):
        return Unavailable(UNAVAILABLE)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Unavailable(UNAVAILABLE)
    return None
