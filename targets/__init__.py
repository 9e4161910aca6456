"""Targets to run experiments against: the sample shop (`shop`) and the local launcher
that runs it as processes (`launcher`)."""
