"""The reliability suite (`make reliability`): load, faults, concurrency, fuzzing and
security against a whole local stack."""
