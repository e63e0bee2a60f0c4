"""ame-doctor: diagnostics for the AME Laravel queue platform."""

__version__ = "0.1.0"
