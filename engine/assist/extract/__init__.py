"""Extraction from spoken Chinese: phone and ID numbers, names, times and addresses.

Each extractor is a pure function (or, for addresses, a loaded model with a pure ``parse``)
that takes transcript text and returns typed matches with character spans [start, end) into
that text and a confidence.
"""
