"""JSON API handlers. Importing this package registers every route in ``intrablog.web.routing.api``."""

from intrablog.web.api import admin, announcements, channels, posts, session, system, timelines, users

__all__ = ["admin", "announcements", "channels", "posts", "session", "system", "timelines", "users"]
