"""The node's HTTP API: `ApiApp` (routes over a `NodeInterface`), `serve_api`, the
OpenAPI document and the Server-Sent-Events stream."""
