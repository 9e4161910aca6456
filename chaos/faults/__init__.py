"""Fault providers for Chaos Toolkit experiments, each paired with its undo: `network`
(fault-proxy toxics and partitions) and `process` (local replicas). Every fault that can be
undone writes its ledger intent before it is applied."""
