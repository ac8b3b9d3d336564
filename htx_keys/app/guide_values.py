"""The example values of a recorded guide; the CLI shows them as defaults in --help."""

# What a help-center guide would show: fictitious, and an address reserved for documentation
# (RFC 5737), so nothing in the pictures points at a real machine.
EXAMPLE_NOTE = "Trading bot"
EXAMPLE_PERMISSIONS = ("read", "trade")
EXAMPLE_IP = "203.0.113.7"
