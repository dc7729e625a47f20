"""The control plane of a sandbox and what it keeps beside the state: every change to the sandbox (reset,
scenarios, tokens, numbers, pools, faults, rate limits) goes through `ControlPlane`, whoever asks; the journal
of requests served, the rate-limit counters, the fault rules and the drift modes are its parts."""
