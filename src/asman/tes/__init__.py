"""GA4GH TES 1.1 over Asman queues: the schema (`models`) and task <-> job (`mapping`); the API is
`asman.server.routes.tes`, the worker side `asman.worker.tes_run`."""
