"""The rules of the LC Phone service as plain Python, knowing no HTTP and no API version: the phone system
(`phone_system`), its resources (`models`), the seeded inventory (`inventory`, `numbering`, `ids`), the
scenarios a sandbox starts from (`scenario`), and the interface of its state (`store`)."""
