"""The package version, in a leaf module so that the engine can record it."""

__version__ = "0.1.0"
