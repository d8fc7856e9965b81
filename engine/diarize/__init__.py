"""Online speaker diarization for mixed (one-channel) legs: speech activity, sliding-window
speaker embeddings, online clustering with stable labels, and a DER scorer for the benchmark."""
