"""Chat turns: context assembly, the model loop, the event bus that fans events out to clients."""
