"""Reference data: names, places and formulary beside the ids (`gateway.reference.model`)."""
