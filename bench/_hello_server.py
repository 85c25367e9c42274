"""The home-timeline benchmark's baseline: a bare aiohttp hello-world, in a process of its own.

    python -m bench._hello_server PORT

Served the way ``intrablog serve`` serves (``web.run_app``, no access log), so that only what a request does
differs. Ends on SIGTERM or SIGINT.
"""

from __future__ import annotations

import sys

from aiohttp import web


async def hello(_: web.Request) -> web.Response:
    return web.Response(text="Hello, world")


def main(argv: list[str]) -> int:
    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=int(argv[0]), print=lambda _: None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
