"""Ray executor: candidates as Ray tasks on a local or existing Ray cluster."""
