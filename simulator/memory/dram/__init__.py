"""Cycle-level DRAM/HBM model: address mapping, bank state machine, controllers, command and transaction levels."""
