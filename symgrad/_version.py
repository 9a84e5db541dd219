"""The package's version, in a leaf module so that stages can name it without importing
the package root (whose ``__init__`` imports those stages). Imports nothing."""

__version__ = "0.1.0"
