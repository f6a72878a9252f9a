"""Headless subcommands of the `ddpm-desktop` CLI: one module each, with
`add_parser(subparsers)` (which sets `run=`) and `run(args) -> int`. No Qt imports."""
