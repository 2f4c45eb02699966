"""Profile spawner on dockerspawner: profile model, spawn form, Docker and Swarm variants."""
