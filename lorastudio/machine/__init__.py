"""What this machine has: its accelerators, what each chip computes in, its software versions."""
