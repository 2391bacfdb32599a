"""Fixtures of the bot tests: the real chat model (``smollm2``) is in tests/conftest.py, loaded
once per session for every test package that needs it."""
