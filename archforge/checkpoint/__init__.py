"""Checkpoints in one place: the metadata key, safe reading, state-dict extraction and
matching, rebuilding a trained network, and atomic saving.

Needs only torch and the model core, so `archforge.checkpoint.weights`, the Lightning
`CheckpointIO` adapter, `predict` and `export` all use it and none of them imports another.
"""

from archforge.checkpoint.files import atomic_save, check_writable, read_checkpoint
from archforge.checkpoint.network import META_KEY, load_network, stored_meta, stored_model
from archforge.checkpoint.state import extract_state_dict, load_state

__all__ = [
    "META_KEY",
    "atomic_save",
    "check_writable",
    "extract_state_dict",
    "load_network",
    "load_state",
    "read_checkpoint",
    "stored_meta",
    "stored_model",
]
