"""crackgan: synthetic images of cracked phone screens from a few hundred photos."""

__version__ = "0.1.0"
