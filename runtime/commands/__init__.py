"""One module per `runtime` subcommand: `add_arguments(parser)` and `run(args) -> exit code`.

Modules here import only the standard library at top level (start-up time of `runtime --help`).
"""
