"""Stand-ins for platforms we cannot run, following their documentation."""
