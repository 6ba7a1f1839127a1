"""The domain engines: heat, traffic, people (and the region and forecast models), composed from
geodata and sim_kernels; no web code."""
