"""Runs once created: the run folder, its status, the index, the supervisor, and reading what the
trainer writes."""
