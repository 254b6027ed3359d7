"""Route groups: one module per contract group, named after its URL segment.

Each module defines `bp = Blueprint("<name>", url_prefix="/<segment>")` (relative to
`/api/v1`); `edge.app.create_app` finds and registers every one of them.
"""
