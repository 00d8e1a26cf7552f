"""Platform-neutral manifests: the format, how they are built from the Python definitions, and
how they are checked. Every exporter reads manifests only."""
