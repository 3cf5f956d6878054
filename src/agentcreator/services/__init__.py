"""Use cases that span repositories. Services own the transaction (they commit)."""
