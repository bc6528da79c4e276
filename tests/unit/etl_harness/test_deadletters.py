"""Dead letters as people read them: one per original message, whoever dead-lettered it."""

from __future__ import annotations

import base64
from typing import Any

from etl_harness import deadletters


def test_dead_letters_from_the_message_log_are_one_per_original_message() -> None:
    def logged(message_id: str, **attributes: str) -> dict[str, Any]:
        data = base64.b64encode(b"not json").decode()
        return {"id": message_id, "data_base64": data, "attributes": attributes}

    letters = deadletters.from_admin_log(
        [
            logged("d2", reason="not_json", detail="x", originalMessageId="m1"),
            logged("d1", reason="not_json", detail="x", originalMessageId="m1"),  # twice
            logged("d3"),  # Pub/Sub's own, after too many delivery attempts
        ]
    )
    assert [(d.message_id, d.reason) for d in letters] == [
        ("m1", "not_json"),
        ("d3", "delivery_failed"),
    ]
    assert letters[0].data == b"not json"
