"""What the dev stack prints once everything answers: its addresses, the demo logins, how to stop it."""

from __future__ import annotations

from intrablog.devstack.processes import show
from intrablog.devstack.stack_config import (
    DEMO_LOGINS,
    LDAP_ADMIN_DN,
    LDAP_ADMIN_PASSWORD,
    SUFFIX,
    XMPP_COMPONENT_DOMAIN,
    XMPP_COMPONENT_SECRET,
    XMPP_DOMAIN,
    XMPP_MUC_DOMAIN,
    StackConfig,
)


def render_banner(stack: StackConfig, launcher_pid: int) -> str:
    web = stack.web_url
    width = max(len(name) for name, _ in DEMO_LOGINS)
    logins = "\n".join(f"    {name:<{width}}  {name + '-pass':<{width + 5}}  {roles}" for name, roles in DEMO_LOGINS)
    accounts = f"{DEMO_LOGINS[0][0]}@{XMPP_DOMAIN} … {DEMO_LOGINS[-1][0]}@{XMPP_DOMAIN}"
    xmpp = stack.xmpp
    return f"""
intrablog dev stack is up

  web        {web}/
  API        {web}/api/v1   (sign in: POST /api/v1/login)
  LDAP       ldap://127.0.0.1:{stack.ldap.port}   base {SUFFIX}, admin {LDAP_ADMIN_DN} / {LDAP_ADMIN_PASSWORD}
  XMPP       127.0.0.1:{xmpp.client_port}, domain {XMPP_DOMAIN}: sign in as {accounts} with the passwords below
             (plain auth allowed on loopback: any desktop client connects; group chats on {XMPP_MUC_DOMAIN})
             component {XMPP_COMPONENT_DOMAIN} on 127.0.0.1:{xmpp.component_port}, secret {XMPP_COMPONENT_SECRET} \
(intrablog's bridge)
  database   {show(stack.workdir / "intrablog.db")}   (config {show(stack.config_path)})
  logs       {show(stack.logs)}/, {show(stack.workdir / "ldap" / "slapd.log")} and \
{show(stack.workdir / "xmpp" / "prosody.log")}

  demo logins (user, password, roles):
{logins}

  Stop with Ctrl-C (or kill -TERM {launcher_pid}): it stops serve, then Prosody, then slapd.
  Start again from the demo directory: stop, then rm -rf {show(stack.workdir)}
"""
