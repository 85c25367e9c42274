"""The server-rendered pages. Routes are installed by ``intrablog.web.pages.routes.install``."""
