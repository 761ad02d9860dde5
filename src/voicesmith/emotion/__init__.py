"""emotion package."""
