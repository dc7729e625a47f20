"""The contract: the OpenAPI documents of each version, loaded, and everything read from them.

- `versions`: the version registry (`contracts/versions.yaml`); `operations`: the operation registry, the one
  router;
- `model`: a version's document indexed as operations, parameters, bodies and answers;
- `requests`, `responses`: a request or an answer checked against an operation; `conformance`: the one check
  of a request as a client sent it; `negotiation`: which version a request asked for;
- `admin`: the admin API's own contract; `vendor_diff`, `command`: `lcphone contract diff`.

    from mockserver.contract import load, load_contract
    load("v3").operations["purchaseNumber"]      # the parsed operation
    load_contract("2021-07-28")                   # the bundled OpenAPI document, a private copy
"""

from .model import Contract, OperationSpec, ParameterSpec, ResponseSpec, load
from .versions import contract_document, load_contract

__all__ = ["Contract", "OperationSpec", "ParameterSpec", "ResponseSpec", "contract_document", "load", "load_contract"]
