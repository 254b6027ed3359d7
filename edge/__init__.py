"""The HTTP edge: a light Sanic app that authenticates, validates, writes rows and enqueues jobs.

Importing this package starts nothing; `edge.app.create_app` builds the app and
`python -m edge` (or `zerocancer edge`) serves it. The edge never does heavy work inline and
never blocks its event loop: bcrypt runs in a thread pool, jobs go through the outbox
(`actors.contracts`), and nothing here imports the actors' heavy libraries.
"""
