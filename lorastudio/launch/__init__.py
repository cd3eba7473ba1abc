"""Starting, stopping and resuming runs."""
