"""Candidate architectures: training time and int8 latency per zoo entry."""
