"""A small HTTP client of the service (used by `tensorgrade submit`, tests and the benchmark)."""

from __future__ import annotations

from typing import Any

import httpx


class ClientError(Exception):
    """The server refused (4xx/5xx) or could not be reached; str() is a one-line reason."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class ServiceClient:
    def __init__(self, server: str, token: str, timeout_s: float = 60.0):
        self._http = httpx.Client(
            base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def submit(self, assignment: str, filename: str, data: bytes) -> dict[str, Any]:
        return self._call(
            "POST",
            "/api/submissions",
            data={"assignment": assignment},
            files={"file": (filename, data, "application/x-ipynb+json")},
        )

    def submission(self, submission_id: int) -> dict[str, Any]:
        return self._call("GET", f"/api/submissions/{submission_id}")

    def report(self, submission_id: int) -> dict[str, Any]:
        return self._call("GET", f"/api/submissions/{submission_id}/report")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ClientError(f"cannot reach {self._http.base_url}: {error}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
                message, code = body.get("detail", response.text), body.get("code")
            except ValueError:
                message, code = response.text[:200], None
            label = f" [{code}]" if code else ""
            raise ClientError(f"server answered {response.status_code}{label}: {message}", response.status_code, code)
        return response.json()
