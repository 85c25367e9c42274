"""The errors every layer raises. Faces translate them (HTTP problem+json, XMPP stanza errors, CLI messages)."""

from __future__ import annotations

from dataclasses import dataclass


class IntrablogError(Exception):
    """Base of every error the product raises on purpose."""

    title = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(IntrablogError):
    title = "Not found"


class Forbidden(IntrablogError):
    title = "Forbidden"


class Unauthenticated(IntrablogError):
    """Credentials missing, wrong or expired. Deliberately carries no hint of which."""

    title = "Unauthorized"


class Conflict(IntrablogError):
    title = "Conflict"


class Unavailable(IntrablogError):
    """A dependency (directory, database) cannot be reached right now; nothing was decided."""

    title = "Service unavailable"


class Incomplete(Unavailable):
    """The directory answered only part of a listing (size or admin limit, referral, paging error).

    A listing is all or nothing: nothing may be decided from part of it (such as "absent, so deactivated").
    """


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class Invalid(IntrablogError):
    """Input that breaks a rule; names every field at fault."""

    title = "Invalid input"

    def __init__(self, field: str, reason: str, *more: FieldError) -> None:
        self.errors: tuple[FieldError, ...] = (FieldError(field, reason), *more)
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in self.errors))

    @classmethod
    def of(cls, errors: list[FieldError]) -> Invalid:
        first, *rest = errors
        return cls(first.field, first.reason, *rest)


class ConfigError(IntrablogError):
    """A configuration problem, named by its key path (``ldap.url: ...``)."""

    title = "Configuration error"

    def __init__(self, key: str, reason: str, source: str | None = None) -> None:
        self.key = key
        self.reason = reason
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {reason}")
