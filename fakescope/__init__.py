"""fakescope: deepfake detection and forensics suite.

Importing the package does no work: models load lazily on first use.
"""

__version__ = "0.1.0"
