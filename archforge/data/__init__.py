"""archforge.data."""
