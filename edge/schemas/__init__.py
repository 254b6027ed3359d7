"""Request models per route group (pydantic, validated by `edge.validation`)."""
