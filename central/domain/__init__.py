"""Central domain: pure warehouse and accounting rules, no I/O."""
