"""Budgets of one agent run: model steps, wall time and tokens.

A run may span several `agent_chat` calls (sampling rounds, elicitation, a configuration interrupt),
so the counters live in the run's saved state (`Budget.to_state` / `from_state`). Wall time counts the
time spent inside `agent_chat` calls, not the time a client or a user takes to answer a request.

The first limit reached wins and ends the run with what was done so far; `exceeded()` names it.

Example:
    budget = Budget(max_steps=3, max_seconds=60, max_tokens=10_000)
    budget.add_usage(prompt=120, completion=30)
    budget.steps += 1
    budget.exceeded()      # → None, or "steps" / "time" / "tokens"
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

Limit = Literal["steps", "time", "tokens"]


@dataclass
class Budget:
    """Limits and what has been used of them."""

    max_steps: int
    max_seconds: float
    max_tokens: int
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_before: float = 0.0
    """Seconds used by earlier calls of the same run."""
    _started: float = field(default_factory=time.monotonic)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self._started)

    def remaining_seconds(self) -> float:
        return max(0.0, self.max_seconds - self.elapsed())

    def add_usage(self, prompt: int, completion: int) -> None:
        self.prompt_tokens += max(0, prompt)
        self.completion_tokens += max(0, completion)

    def exceeded(self) -> Limit | None:
        """The limit that stops another model step, if any (tokens, then time, then steps)."""
        if self.total_tokens >= self.max_tokens:
            return "tokens"
        if self.remaining_seconds() <= 0:
            return "time"
        if self.steps >= self.max_steps:
            return "steps"
        return None

    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens}

    def to_state(self) -> dict[str, Any]:
        return {"max_steps": self.max_steps, "max_seconds": self.max_seconds, "max_tokens": self.max_tokens,
                "steps": self.steps, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "elapsed": self.elapsed()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Budget:
        return cls(max_steps=state["max_steps"], max_seconds=state["max_seconds"], max_tokens=state["max_tokens"],
                   steps=state["steps"], prompt_tokens=state["prompt_tokens"],
                   completion_tokens=state["completion_tokens"], elapsed_before=state["elapsed"])
