"""A simulated production on loopback — used by ``ame-doctor demo`` and by the test suite.

Nothing here is imported by the engine or the checks: it only builds worlds for them to examine.
"""
