"""Deterministic consensus simulator: seeded faults over virtual time, no I/O."""
