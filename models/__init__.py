"""One adapter per model family, and the registry of what to load, from where, with checksums."""
