"""`ewg` sub-commands, one small module per group."""
