"""Probe providers for Chaos Toolkit experiments: `load` (error rate, latency, throughput of
the live load stream), `http`, `invariants` (the shop's data integrity), `replicas` and
`prometheus`. They return numbers or booleans for tolerances and raise typed errors."""
