"""`lcphone verify`: hold a real environment to the contract and report its drift.

`command` (the command line), `runner` (preflight, the plan of probes, the run), `probes` (the requests,
derived from the contract), `findings` (what the answers say), `coverage` (what was not checked, and why),
`report` (Markdown, JUnit XML, the terminal).
"""
