"""intrablog: the self-hosted enterprise microblog."""

__version__ = "0.1.0"
