"""Utilities shared across skhash."""
