"""One package per segment, one module per state (pure functions of sealed inputs)."""
