"""JSON API handlers. Importing this package registers every route in ``intrablog.web.routing.api``."""

from intrablog.web.api import channels, posts, session, system, timelines, users

__all__ = ["channels", "posts", "session", "system", "timelines", "users"]
