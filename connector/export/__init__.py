"""Exporters: native integrations for each platform, produced from the manifests only."""
