"""One module per `clearnode` subcommand; each defines `register(subparsers)`
and sets `handler` on its parser to a function `(args) -> exit code`."""
