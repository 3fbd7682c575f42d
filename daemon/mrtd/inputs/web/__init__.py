"""The web control surface: an HTTP page and a WebSocket speaking the OSC table's vocabulary."""
