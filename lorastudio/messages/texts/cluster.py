"""What the core's cluster area says, in English and Chinese."""

# fmt: off
TEXTS: dict[str, tuple[str, str]] = {
}
# fmt: on
