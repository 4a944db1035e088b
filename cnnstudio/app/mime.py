"""The window's MIME types, one place for each.

``LAYER_MIME`` (``application/x-cnnstudio-layer``), the drag-and-drop payload of a layer
(palette → canvas), UTF-8 text: a layer type name (``Conv2d``) or, for a preconfigured recipe,
``{"type": "AdaptiveAvgPool2d", "params": {"output_size": 1}}``.

``GRAPH_MIME`` (``application/x-cnnstudio-graph``), copied nodes on the clipboard: a graph
JSON document (DESIGN.md §3.2) of the nodes and the links among them.
"""

from __future__ import annotations

import json
from typing import Any

from ..graph import layers

LAYER_MIME = "application/x-cnnstudio-layer"
GRAPH_MIME = "application/x-cnnstudio-graph"


def encode_layer(type_name: str, params: dict[str, Any] | None = None) -> str:
    """The drag payload: the type name, or the JSON object when there are parameters."""
    if not params:
        return type_name
    return json.dumps({"type": type_name, "params": params}, ensure_ascii=False)


def decode_layer(payload: bytes | str) -> tuple[str, dict[str, Any]]:
    """(type name, params) from a drag payload; ValueError when it is neither form."""
    text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else str(payload)
    text = text.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a layer description: {exc}") from None
        type_name, params = doc.get("type"), doc.get("params") or {}
        if not isinstance(type_name, str) or not isinstance(params, dict):
            raise ValueError("a layer description needs a 'type' string and a 'params' object")
    else:
        type_name, params = text, {}
    if layers.find(type_name) is None:
        raise ValueError(layers.unknown_type_message(type_name))
    return type_name, dict(params)
