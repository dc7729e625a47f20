"""lcphone in a test suite: the pytest plugin (`plugin`, registered through the `pytest11` entry point), the
harness it drives (`harness`, free of pytest, for any test runner), and the vendor's Python SDK pointed at a
sandbox (`sdk`)."""
