"""Shared test helpers: moto/ECS worlds, probe and queue fixtures, synthetic checks, report samples."""
