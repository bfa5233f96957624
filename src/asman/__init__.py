"""Asman: public compute queues for everyone."""

__version__ = "0.1.0"
