"""The one exception the review service raises towards the HTTP layer."""

from __future__ import annotations

KEPT = "your notebook is unchanged"  # what every failed submit leaves as it was


class ReviewError(Exception):
    """A refusal or failure with the HTTP status of the contract and a message for people
    (what, where, fix). ``gates`` carries the gate results on 422."""

    def __init__(self, status: int, message: str, gates: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.gates = gates

    def body(self) -> dict:
        body = {"message": self.message}
        if self.gates is not None:
            body["gates"] = self.gates
        return body
