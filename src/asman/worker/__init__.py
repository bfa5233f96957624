"""The worker: connects out to a server, takes jobs, runs them in containers."""
