"""Event types by family, all in the past tense; `contract.envelope.Event` is their discriminated union."""
