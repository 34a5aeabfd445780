"""The tensorgrade web service: submissions in, grades and misconception analytics out.

`service.app.create_app(settings)` builds the FastAPI application; `service.cli` holds the
`serve`, `users` and `submit` commands.
"""

__version__ = "0.1.0"
