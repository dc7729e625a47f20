"""`lcphone verify`: hold a real environment to the contract and report its drift."""

from .runner import VerifyOptions, VerifyResult, verify

__all__ = ["VerifyOptions", "VerifyResult", "verify"]
