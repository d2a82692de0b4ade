"""Helpers shared by the tests (import as `tests.support.<module>`; pytest runs from the repository root)."""
