"""Use cases shared by the routes, typed on models and plain values, with no Sanic types."""
