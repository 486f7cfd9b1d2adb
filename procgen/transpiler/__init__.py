"""Node tree -> Python source that rebuilds it (plus the CLI and operator around it)."""
