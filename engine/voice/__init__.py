"""Jiesu's voice on calls it answers: speech synthesis behind one interface (and, to come,
the prompt cache, playback and barge-in)."""
