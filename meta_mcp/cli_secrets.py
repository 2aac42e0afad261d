"""`meta-mcp secrets push NAME…`: copy secrets meta-mcp has into Docker's MCP secret store.

Servers the Docker MCP Gateway runs read their secrets from Docker's store, not from meta-mcp. This
copies values from meta-mcp's secrets chain (environment, `.env`, Infisical … in `secrets_order`)
with `docker mcp secret set NAME`, the value on stdin: never in argv (visible in `ps`), the logs or
the output, which names only the secret and the source it came from.

Each NAME is a secret as catalogs name it — Docker's dotted name (`brave.api_key`) or the variable the
server reads (`BRAVE_API_KEY`); the catalogs (built-in, Docker's, `--catalog FILE`) map one to the
other. The value is looked up by the variable, then by the dotted name, and stored under the dotted
name. A NAME no catalog knows is looked up and stored as it is.

Exit codes: 0 when every secret was pushed, 1 when one was not found or docker failed, 2 for a bad
catalog file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SECRETS_EPILOG = """\
examples:
  meta-mcp secrets push brave.api_key                 # value from BRAVE_API_KEY (environment or ./.env)
  meta-mcp secrets push GITHUB_PERSONAL_ACCESS_TOKEN  # stored as github.personal_access_token
  meta-mcp secrets push team.token --catalog team-catalog.yaml

the value goes to `docker mcp secret set NAME` on stdin; it never appears on a command line or in output.
"""


def add_secrets_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `secrets push` on the top-level subcommands."""
    secrets = sub.add_parser("secrets", help="copy secrets into Docker's MCP secret store (for the Docker MCP Gateway)",
                             description="Copy secrets meta-mcp has into Docker's MCP secret store.",
                             epilog=SECRETS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    push = actions.add_parser("push", help="copy values from meta-mcp's secrets into Docker's (docker mcp secret set)",
                              description="Copy each secret's value from meta-mcp's secrets (environment, .env, …) "
                              "into Docker's MCP secret store, on stdin.", epilog=SECRETS_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    push.add_argument("names", nargs="+", metavar="NAME",
                      help="Docker's secret name (brave.api_key) or the variable a server reads (BRAVE_API_KEY)")
    push.add_argument("--catalog", dest="catalogs", type=Path, action="append", default=[], metavar="FILE",
                      help="extra catalog file mapping secret names to variables (repeatable)")


def run_secrets(args: argparse.Namespace) -> int:
    """Dispatch `meta-mcp secrets ACTION`."""
    import anyio

    from meta_mcp.services.catalog import CatalogError

    try:
        return anyio.run(_push, args)
    except CatalogError as exc:
        print(f"meta-mcp: {exc}", file=sys.stderr)
        return 2


async def _push(args: argparse.Namespace) -> int:
    from meta_mcp.cli_environ import checked_settings
    from meta_mcp.providers.process import child_env
    from meta_mcp.services import Services
    from meta_mcp.services.docker_secrets import DockerSecretsError, set_docker_secret
    settings = checked_settings(os.environ, {"catalogs": args.catalogs} if args.catalogs else {})
    if settings is None:
        return 2
    services = Services.from_settings(settings, os.environ)
    known = {}
    for entry in services.catalog:
        for ref in entry.secrets:
            known.setdefault(ref.name, (ref.name, ref.env))
            known.setdefault(ref.env, (ref.name, ref.env))
    failed = 0
    for asked in args.names:
        name, env = known.get(asked, (asked, asked))
        key, found = env, await services.secrets.lookup(env)
        if found is None and name != env:
            key, found = name, await services.secrets.lookup(name)
        if found is None:
            print(f"meta-mcp: {asked}: not found in meta-mcp's secrets ({services.secrets.describe()}); nothing pushed",
                  file=sys.stderr)
            failed += 1
            continue
        value, source = found
        try:
            await set_docker_secret(name, value, child_env(None, os.environ))
        except DockerSecretsError as exc:
            print(f"meta-mcp: {name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"pushed {name} (from {key} in {source}) to Docker's MCP secret store")
    return 1 if failed else 0

