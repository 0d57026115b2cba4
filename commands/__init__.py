"""The `tempodesk` command groups, one module each; cli.py assembles them into one app.

Each module only parses options, calls what does the work (domain/, composition.py,
dev_stack.py, api/) and prints; nothing here builds a worker or a server itself."""
