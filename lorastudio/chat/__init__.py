"""Chat with a trained run in a worker process, prompt sets, and merge/export."""
