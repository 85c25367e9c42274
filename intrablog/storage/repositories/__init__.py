"""The SQL implementations of the repository ports (intrablog.domain.ports), one family per module."""
