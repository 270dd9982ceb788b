"""Device simulators that are real network peers, built from the same profiles as the edge."""
