"""Puts tests/ on the import path so every suite can use ``support`` (shared helpers)."""
