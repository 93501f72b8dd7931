"""forensics package."""
