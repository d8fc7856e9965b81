"""Knowledge suggestions: the knowledge-base format, hybrid retrieval on the running
conversation, and the card tracker that keeps the screen steady."""
