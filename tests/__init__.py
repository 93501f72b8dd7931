"""fakescope test-suite."""
