"""llmrec.testing."""
