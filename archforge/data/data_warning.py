"""The one warning category of the data package, in a module of its own so that the modules
`base` imports (imaging, image_files) can warn without importing `base`."""

from __future__ import annotations


class DataWarning(UserWarning):
    """Data that is skipped rather than fatal: an unreadable image, a FIFO among the images,
    an image over Pillow's decompression-bomb size."""
