"""Memories: device descriptions (`spec`), the analytical level (`analytical`), and the cycle-level DRAM/HBM
model (`dram`: address mapping, bank state machine, controllers, command and transaction levels, energy).

Entry points: `loader.load_memory_spec(path)`, `memtrace.run_memtrace(spec, trace, level)`,
`dram.transaction.transfer(spec, base, nbytes, rows=, stride=)`, `dram.command.simulate_requests(...)`.
"""
