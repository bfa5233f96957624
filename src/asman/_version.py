"""The package version, in a module of its own so that any part of Asman can read it without importing the
package's public API (and what that loads)."""

__version__ = "0.1.0"
