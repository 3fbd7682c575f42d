"""mrtd: keep a real-time music model warm and let people play it."""

__version__ = "0.1.0"
