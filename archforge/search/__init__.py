"""archforge.search."""
