"""`lcphone proxy`: a reverse proxy to a real API that checks both sides of every exchange against the contract."""
