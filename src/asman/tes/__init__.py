"""GA4GH TES 1.1 over Asman queues: the schema (`models`), task <-> job (`mapping`) and the API (`routes`)."""
