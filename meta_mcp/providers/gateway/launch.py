"""How meta-mcp reaches the gateway, and what it says when it cannot.

- `upstream_spec(target, token)`: the gateway as an upstream `ServerSpec` — its streamable-HTTP URL
  with `Authorization: Bearer <token>`, or `docker mcp gateway run` over stdio for `target == "docker"`;
- `docker_mcp_problem(environ)`: before starting `docker mcp gateway run`, what is missing on this
  machine — the `docker` CLI, or its `mcp` plugin (Docker's MCP Toolkit) — as one sentence, or None;
- `token_refused(url, token)`: whether the gateway answers 401 to our token (the MCP SDK reports an
  HTTP 401 only as "Server returned an error response"), and `token_message` saying what to fix.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping

import anyio

from meta_mcp.config import ServerSpec
from meta_mcp.providers.process import child_env

UPSTREAM_NAME = "docker-gateway"
"""The gateway connection's name in errors and logs."""
DOCKER_ARGS = ("mcp", "gateway", "run")
TOKEN_ENV = "MCP_GATEWAY_AUTH_TOKEN"


def upstream_spec(target: str, token: str | None) -> ServerSpec:
    """The gateway as an upstream: `docker mcp gateway run` (stdio) or a streamable-HTTP URL."""
    if target == "docker":
        return ServerSpec(name=UPSTREAM_NAME, command="docker", args=DOCKER_ARGS)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return ServerSpec(name=UPSTREAM_NAME, url=target, transport="http", headers=headers)


def where(target: str) -> str:
    """The gateway as messages name it."""
    if target == "docker":
        return "the Docker MCP Gateway (docker mcp gateway run)"
    return f"the Docker MCP Gateway at {target}"


async def docker_mcp_problem(environ: Mapping[str, str], timeout: float = 20.0) -> str | None:
    """Why `docker mcp gateway run` cannot start here (the docker CLI or its MCP plugin is missing), or None."""
    if shutil.which("docker", path=environ.get("PATH")) is None:
        return ("--gateway docker needs the `docker` command, which is not installed here (not found on PATH). "
                "Install Docker Desktop with its MCP Toolkit, or give --gateway the URL of a running gateway "
                "(docker mcp gateway run --transport streaming).")
    try:
        with anyio.fail_after(timeout):
            done = await anyio.run_process(["docker", "mcp", "version"], check=False, env=child_env(None, environ))
    except TimeoutError:
        return f"--gateway docker: `docker mcp version` did not answer within {timeout:g} s; is Docker running?"
    except OSError as exc:
        return f"--gateway docker: cannot run `docker`: {exc}"
    if done.returncode == 0:
        return None
    said = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
    return ("--gateway docker needs Docker's MCP Toolkit, whose CLI plugin is missing: `docker mcp` is not a docker "
            f"command here (docker said: {said[0] if said else f'exit {done.returncode}'}). Enable the MCP Toolkit in "
            "Docker Desktop, or install the docker-mcp plugin from https://github.com/docker/mcp-gateway into "
            "~/.docker/cli-plugins.")


async def token_refused(url: str, token: str | None, timeout: float = 10.0) -> bool:
    """Whether the gateway at `url` answers our bearer token with 401 Unauthorized."""
    import httpx2

    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 0, "method": "ping"}
    try:
        async with httpx2.AsyncClient(timeout=timeout) as http:
            return (await http.post(url, json=body, headers=headers)).status_code == 401
    except httpx2.HTTPError:
        return False


def token_message(url: str, has_token: bool) -> str:
    """What to do about a 401 from the gateway at `url`."""
    what = ("meta-mcp's token is wrong: the gateway does not accept the MCP_GATEWAY_AUTH_TOKEN meta-mcp was given"
            if has_token else "meta-mcp has no token: MCP_GATEWAY_AUTH_TOKEN is not set")
    return (f"the Docker MCP Gateway at {url} answered 401 Unauthorized: {what}. Set {TOKEN_ENV} in meta-mcp's "
            "environment or its .env to the gateway's token (the MCP_GATEWAY_AUTH_TOKEN it was started with, or the "
            "one it printed at start: 'Authorization: Bearer …') and restart meta-mcp.")
