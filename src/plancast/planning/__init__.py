"""Planning: capacity, top-down allocation, quotas — pure computations over frames."""
