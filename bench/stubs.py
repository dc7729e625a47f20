"""The peers' stubs: lcphone's own answers to the benchmark's requests, served as static bodies by WireMock,
Mockoon and the ceiling, so that every server sends the same bytes.

    python bench/stubs.py    # rewrites bench/stubs/ (run.py does it before each run)
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from operations import INVENTORY, OPERATIONS, SCENARIO, SEED, Operation, purchase_bodies

STUBS = Path(__file__).resolve().parent / "stubs"
BODIES = STUBS / "bodies"
MAPPINGS = STUBS / "wiremock" / "mappings"
MOCKOON = STUBS / "mockoon-environment.json"
_IDS = uuid.UUID("6c637068-6f6e-6500-0000-000000000000")  # stable uuids: the files change only with the answers


def _id(name: str) -> str:
    return str(uuid.uuid5(_IDS, name))


def lcphone_answers() -> dict[str, bytes]:
    """Each operation's answer from a sandbox as `lcphone serve` runs it for the benchmark."""
    import httpx

    from mockserver import Sandbox
    from mockserver.http.transport import SyncASGITransport

    sandbox = Sandbox(seed=SEED, scenario=SCENARIO, numbers_per_type=INVENTORY)
    answers = {}
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        for operation in OPERATIONS:
            body = purchase_bodies(1)[0] if operation.method == "POST" else None
            answer = client.request(operation.method, operation.path, headers=operation.request_headers, content=body)
            assert answer.status_code == operation.status, (operation.key, answer.status_code, answer.text)
            answers[operation.key] = answer.content
    return answers


def wiremock_mapping(operation: Operation, body: bytes) -> dict:
    return {
        "id": _id(operation.key),
        "request": {
            "method": operation.method,
            "urlPath": operation.route,
            "headers": {"Version": {"equalTo": operation.version}},
        },
        "response": {
            "status": operation.status,
            "headers": {"Content-Type": "application/json"},
            "body": body.decode(),
        },
    }


def mockoon_environment(answers: dict[str, bytes], port: int = 3000) -> dict:
    routes: dict[tuple[str, str], dict] = {}
    for operation in OPERATIONS:
        key = (operation.method.lower(), operation.route.lstrip("/"))
        route = routes.setdefault(
            key,
            {
                "uuid": _id(f"route {key}"),
                "type": "http",
                "documentation": "",
                "method": key[0],
                "endpoint": key[1],
                "responses": [],
                "responseMode": None,
                "streamingMode": None,
                "streamingInterval": 0,
            },
        )
        route["responses"].append(
            {
                "uuid": _id(f"response {operation.key}"),
                "body": answers[operation.key].decode(),
                "latency": 0,
                "statusCode": operation.status,
                "label": operation.title,
                "headers": [{"key": "Content-Type", "value": "application/json"}],
                "bodyType": "INLINE",
                "filePath": "",
                "databucketID": "",
                "sendFileAsBody": False,
                "rules": [
                    {
                        "target": "header",
                        "modifier": "Version",
                        "value": operation.version,
                        "invert": False,
                        "operator": "equals",
                    }
                ],  # fmt: skip
                "rulesOperator": "OR",
                "disableTemplating": True,  # static bodies, as the other stubs
                "fallbackTo404": False,
                "default": not route["responses"],
                "crudKey": "id",
                "callbacks": [],
            }
        )
    return {
        "uuid": _id("environment"),
        "lastMigration": 33,
        "name": "lcphone benchmark",
        "endpointPrefix": "",
        "latency": 0,
        "port": port,
        "hostname": "127.0.0.1",
        "folders": [],
        "routes": list(routes.values()),
        "rootChildren": [{"type": "route", "uuid": route["uuid"]} for route in routes.values()],
        "proxyMode": False,
        "proxyHost": "",
        "proxyRemovePrefix": False,
        "tlsOptions": {
            "enabled": False,
            "type": "CERT",
            "pfxPath": "",
            "certPath": "",
            "keyPath": "",
            "caPath": "",
            "passphrase": "",
        },  # fmt: skip
        "cors": False,
        "headers": [],
        "proxyReqHeaders": [],
        "proxyResHeaders": [],
        "data": [],
        "callbacks": [],
    }


def write() -> dict[str, bytes]:
    answers = lcphone_answers()
    for folder in (BODIES, MAPPINGS):
        folder.mkdir(parents=True, exist_ok=True)
    for operation in OPERATIONS:
        (BODIES / f"{operation.key}.json").write_bytes(answers[operation.key])
        mapping = wiremock_mapping(operation, answers[operation.key])
        (MAPPINGS / f"{operation.key}.json").write_text(json.dumps(mapping, indent=1) + "\n", encoding="utf-8")
    MOCKOON.write_text(json.dumps(mockoon_environment(answers), indent=1) + "\n", encoding="utf-8")
    return answers


if __name__ == "__main__":
    for key, body in write().items():
        print(f"{key}: {len(body)} bytes")
    print(f"wrote {STUBS}")
