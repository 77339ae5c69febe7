"""llmrec.prompts."""
