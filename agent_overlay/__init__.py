"""Agent and supervisor screens (web files) and the screen protocol's JSON schema.

A package only so the files ship with Jiesu and are found with ``importlib.resources``.
"""
