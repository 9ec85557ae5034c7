"""arkops: the revenue-operations toolkit."""

__version__ = "0.1.0"
