"""archforge's built-in block plugins, registered through the `archforge.plugins` entry points."""
