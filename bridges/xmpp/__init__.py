"""The XMPP bridge: an external component (XEP-0114) that makes intrablog's channels, people and bot
reachable from any IM client. See bridges/README.md for the addresses and the lifecycle."""

from bridges.xmpp.bridge import BridgeDisconnected, XmppBridge

__all__ = ["BridgeDisconnected", "XmppBridge"]
