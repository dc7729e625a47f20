"""Top-level conftest: makes the checkout importable for pytest runs that did not install it."""
