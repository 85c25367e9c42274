"""The nginx example for several nodes (deploy/nginx/intrablog.conf) parses, and proxies the live stream the
way server-sent events need: unbuffered, over HTTP/1.1, and held open longer than intrablog's heartbeat.

nginx itself is not part of the test machines, so the file is read with a small parser of nginx's syntax
(directives, quoted strings, blocks, comments) and checked structurally; directive names are checked against
the ones nginx's http modules define, so a misspelt directive fails here as it would fail ``nginx -t``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import pytest

from intrablog.devstack.stack_config import REPO_ROOT
from intrablog.web.keys import WebSettings

NGINX_EXAMPLE = REPO_ROOT / "deploy" / "nginx" / "intrablog.conf"

# The directives this file may use (ngx_http_core, upstream, proxy, ssl, v2, gzip, log, rewrite modules).
KNOWN_DIRECTIVES = {
    "upstream", "server", "keepalive", "listen", "server_name", "return", "ssl_certificate",
    "ssl_certificate_key", "client_max_body_size", "proxy_http_version", "proxy_set_header", "location",
    "proxy_pass", "proxy_next_upstream", "proxy_read_timeout", "proxy_send_timeout", "proxy_buffering",
    "proxy_cache", "gzip", "access_log", "http2",
}  # fmt: skip
_TOKEN = re.compile(r"""\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)""")


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    line: int = 0
    children: list[Directive] = field(init=False)

    def __post_init__(self) -> None:
        self.children = self.block or []

    def all(self, name: str) -> list[Directive]:
        return [child for child in self.children if child.name == name]

    def one(self, name: str) -> Directive:
        found = self.all(name)
        assert len(found) == 1, f"expected one {name} in {self.name} {self.args} (line {self.line}), got {len(found)}"
        return found[0]

    def value(self, name: str) -> list[str]:
        return self.one(name).args


def parse_nginx(text: str) -> list[Directive]:
    """nginx's configuration syntax: ``name args... ;`` or ``name args... { ... }``, # comments, quotes."""
    stack: list[list[Directive]] = [[]]
    pending: list[str] = []
    pending_line = 0
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(
                f"line {text.count(chr(10), 0, position) + 1}: cannot read {text[position : position + 20]!r}"
            )
        position = match.end()
        line = text.count("\n", 0, match.start()) + 1
        double, single, punctuation, word = match.groups()
        if punctuation is None and (double is not None or single is not None or word is not None):
            if not pending:
                pending_line = line
            pending.append(double if double is not None else single if single is not None else word or "")
        elif punctuation == ";":
            if not pending:
                raise ValueError(f"line {line}: ';' without a directive")
            stack[-1].append(Directive(pending[0], pending[1:], line=pending_line))
            pending = []
        elif punctuation == "{":
            if not pending:
                raise ValueError(f"line {line}: block without a directive")
            directive = Directive(pending[0], pending[1:], block=[], line=pending_line)
            stack[-1].append(directive)
            stack.append(directive.children)
            pending = []
        elif punctuation == "}":
            if pending or len(stack) == 1:
                raise ValueError(f"line {line}: unexpected '}}'")
            stack.pop()
    if pending or len(stack) != 1:
        raise ValueError("unterminated directive or block at the end of the file")
    return stack[0]


def seconds(value: str) -> float:
    """An nginx time (``60``, ``60s``, ``5m``, ``1h``) in seconds."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value)
    assert match is not None, f"not an nginx time: {value}"
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2) or "s"]
    return int(match.group(1)) * unit


def walk(directives: list[Directive]) -> list[Directive]:
    found: list[Directive] = []
    for directive in directives:
        found.append(directive)
        found.extend(walk(directive.children))
    return found


@pytest.fixture(scope="module")
def config() -> list[Directive]:
    return parse_nginx(NGINX_EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def https(config: list[Directive]) -> Directive:
    servers = [d for d in config if d.name == "server" and any("443" in listen.args[0] for listen in d.all("listen"))]
    assert len(servers) == 1
    return servers[0]


def effective(server: Directive, location: Directive, name: str) -> list[list[str]]:
    """A proxy directive as nginx applies it in ``location``: its own, else inherited from the server."""
    own = [d.args for d in location.all(name)]
    return own or [d.args for d in server.all(name)]


def test_every_directive_is_one_nginx_knows(config: list[Directive]) -> None:
    unknown = sorted({(d.name, d.line) for d in walk(config) if d.name not in KNOWN_DIRECTIVES})
    assert unknown == []


def test_requests_are_spread_over_several_nodes_with_kept_alive_connections(config: list[Directive]) -> None:
    upstream = next(d for d in config if d.name == "upstream")
    assert upstream.args == ["intrablog"]
    assert len(upstream.all("server")) >= 2
    assert int(upstream.value("keepalive")[0]) > 0


def test_every_location_proxies_to_the_nodes_over_http_1_1(https: Directive) -> None:
    locations = {tuple(location.args): location for location in https.all("location")}
    assert set(locations) == {("/",), ("/live/",), ("=", "/healthz")}
    for location in locations.values():
        assert location.value("proxy_pass") == ["http://intrablog"]
        assert effective(https, location, "proxy_http_version") == [["1.1"]]
        headers = {args[0]: args[1] for args in effective(https, location, "proxy_set_header")}
        # Keep-alive to the upstream needs an empty Connection header; the rest is what intrablog logs and links.
        assert headers["Connection"] == ""
        assert headers["Host"] == "$host"
        assert headers["X-Forwarded-Proto"] == "$scheme"
        assert headers["X-Request-ID"] == "$request_id"


def test_the_live_stream_is_unbuffered_and_outlives_the_heartbeat(https: Directive) -> None:
    live = next(location for location in https.all("location") if location.args == ["/live/"])
    assert live.value("proxy_buffering") == ["off"]
    assert live.value("proxy_cache") == ["off"]
    assert live.value("gzip") == ["off"]
    heartbeat = next(f.default for f in dataclasses.fields(WebSettings) if f.name == "live_heartbeat_seconds")
    assert isinstance(heartbeat, float)
    # A stream is cut only when no byte came for proxy_read_timeout: it must span several heartbeats.
    assert seconds(live.value("proxy_read_timeout")[0]) >= 4 * heartbeat
    assert seconds(live.value("proxy_send_timeout")[0]) >= 4 * heartbeat


def test_plain_http_is_sent_to_https(config: list[Directive]) -> None:
    plain = [d for d in config if d.name == "server" and all("443" not in d.args[0] for d in d.all("listen"))]
    assert len(plain) == 1
    assert plain[0].value("return") == ["301", "https://$host$request_uri"]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("server { listen 80;", "unterminated"),
        ("listen 80; }", "unexpected"),
        ("location / { proxy_pass http://x }", "unexpected"),  # the missing ';'
        ("; listen 80;", "without a directive"),
    ],
)
def test_the_parser_refuses_what_nginx_refuses(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_nginx(text)
