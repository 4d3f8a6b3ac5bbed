"""Helpers shared by the test suites that need nothing beyond the standard library."""
