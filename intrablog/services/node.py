"""This process among the intrablog nodes: its id, and its part in running the XMPP bridge."""

from __future__ import annotations

import enum
import os
import secrets
import socket
from dataclasses import dataclass, field


class BridgeRole(enum.StrEnum):
    DISABLED = "disabled"  # [xmpp] enabled = false
    STANDBY = "standby"  # waiting for the bridge lock: another node runs the bridge
    LEADER = "leader"  # runs the bridge (the only node on SQLite; the lock holder on PostgreSQL)


def new_node_id() -> str:
    """Readable (host and process) and unique among live nodes even when containers share host names and pids."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(2)}"


@dataclass
class NodeStatus:
    """Written by the runtime as leadership changes; read by the health check."""

    node_id: str = field(default_factory=new_node_id)
    bridge: BridgeRole = BridgeRole.DISABLED
