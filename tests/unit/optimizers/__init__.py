"""Unit tests of central/optimizers."""
