pytest_plugins = [
    "tests.support.server",
    "tests.support.docker",
    "tests.support.stack",
    "tests.support.services",
    "tests.support.browser",
    "tests.support.snakemake",
]
