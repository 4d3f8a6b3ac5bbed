"""Training-only code (stance model training, held-out evaluation): imports the run time, never
imported by it."""
