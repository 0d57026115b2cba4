"""The desk's operations, whatever door a request came in by (docs/architecture.md).

Every door - the JSON routes, the pages, SMTP, SCIM, alert intake, the CLI - parses what
it was sent, calls a function here with the caller's :class:`~desk.principal.Principal`,
and turns what comes back (or the :class:`~desk.errors.DeskError` raised) into its own
kind of answer. Who may do what, and on which client's tickets, is checked here, once.
The service starts, queries and messages workflows; it never imports a door.
"""
