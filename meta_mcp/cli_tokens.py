"""`meta-mcp token …`: API tokens for serving a team over HTTP, and `serve`'s authentication options.

- `meta-mcp token create --subject NAME --workspace NAME… [--role ROLE] [--note TEXT]` — makes a new
  token, writes its SHA-256 (never the token) with the identity to the tokens file and prints the
  token once, on stdout (`--json`: `{"token", "id", "subject", "workspaces", "role"}`).
- `meta-mcp token list [--json]` — every token's id, subject, workspaces, role, created, note.
- `meta-mcp token revoke ID | --subject NAME` — removes a token (by its id, or a unique prefix of at
  least 6 characters) or every token of a subject. A running meta-mcp re-reads the file on its next
  request: the token stops working without a restart.

The tokens file is `--tokens-file FILE`, else `META_MCP_AUTH_TOKENS_FILE`. Exit codes: 0 done, 1
nothing matched (revoke), 2 bad arguments or file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

TOKEN_EPILOG = """\
examples:
  meta-mcp token create --tokens-file tokens.yaml --subject alice --workspace team-a --role member
  meta-mcp token create --tokens-file tokens.yaml --subject ops --workspace '*' --role admin --note "CI"
  meta-mcp token list --tokens-file tokens.yaml
  meta-mcp token revoke 3f0a9c1b2d4e --tokens-file tokens.yaml       # or: --subject alice
  meta-mcp serve --transport http --host 0.0.0.0 --tokens-file tokens.yaml --config team.yaml

clients send the token as `Authorization: Bearer <token>`; the X-MCP-Workspace header chooses among
the token's workspaces (default: its first). The role is what the config file's policy keys on.
See README.md, "Serving a team".
"""


def add_auth_arguments(serve: argparse.ArgumentParser) -> None:
    """`serve`'s options for authentication over HTTP (each also a META_MCP_* setting)."""
    group = serve.add_argument_group("authentication (HTTP; see README, Serving a team)")
    group.add_argument("--tokens-file", dest="auth_tokens_file", type=Path, metavar="FILE",
                       help="accept the API tokens of FILE (written by `meta-mcp token create`)")
    group.add_argument("--oauth-issuer", metavar="URL", help="accept JWT access tokens of this OAuth 2.1 "
                       "authorization server (checked against its JWKS)")
    group.add_argument("--oauth-audience", metavar="URL", help="the aud access tokens must name (default: the "
                       "server's own URL, --public-url)")
    group.add_argument("--oauth-scope", dest="oauth_scopes", action="append", metavar="SCOPE",
                       help="a scope every access token must carry (repeatable)")
    group.add_argument("--public-url", metavar="URL", help="the URL clients reach /mcp at (default "
                       "http://HOST:PORT/mcp)")
    group.add_argument("--insecure-no-auth", dest="insecure_no_auth", action="store_const", const=True,
                       help="serve off loopback without authentication (only behind a proxy that authenticates)")


def add_tokens_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `token create|list|revoke` on the top-level subcommands."""
    token = sub.add_parser("token", help="create, list or revoke API tokens for HTTP clients",
                           description="Create, list or revoke the API tokens of a tokens file.",
                           epilog=TOKEN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tokens-file", type=Path, metavar="FILE",
                        help="the tokens file (default: META_MCP_AUTH_TOKENS_FILE)")
    common.add_argument("--json", action="store_true", help="print JSON")
    create = actions.add_parser("create", parents=[common], help="make a token and print it once",
                                epilog=TOKEN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    create.add_argument("--subject", required=True, help="who the token is (shown in the audit log)")
    create.add_argument("--workspace", dest="workspaces", action="append", required=True, metavar="NAME",
                        help="a workspace the token may use (repeatable; '*' for all)")
    create.add_argument("--role", default="member", help="the role the policy applies (default member)")
    create.add_argument("--note", help="a note kept with the token (what it is for)")
    actions.add_parser("list", parents=[common], help="list the tokens (never the tokens themselves)")
    revoke = actions.add_parser("revoke", parents=[common], help="remove a token or all of a subject's")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the token's id (from `token list`; a unique prefix will do)")
    which.add_argument("--subject", help="revoke every token of this subject")


def run_tokens(args: argparse.Namespace) -> int:
    """Dispatch `meta-mcp token ACTION`."""
    from meta_mcp.auth import tokens
    from meta_mcp.cli_environ import checked_settings

    settings = checked_settings(os.environ)
    if settings is None:
        return 2
    path: Path | None = args.tokens_file or settings.auth_tokens_file
    if path is None:
        print("meta-mcp: name the tokens file: --tokens-file FILE or META_MCP_AUTH_TOKENS_FILE", file=sys.stderr)
        return 2
    path = path.expanduser()
    try:
        if args.token_command == "create":
            return _create(args, path, settings)
        if args.token_command == "list":
            return _list(args, path)
        return _revoke(args, path, settings)
    except tokens.TokensFileError as exc:
        print(f"meta-mcp: {exc}", file=sys.stderr)
        return 2


def _audit(settings: Any, what: str, entries: list[dict[str, Any]]) -> None:
    from meta_mcp.auth.audit import audit, configure

    if settings.audit_log is None:
        return
    configure(settings.audit_log)
    for entry in entries:
        audit("change", "cli", None, f"{what} {entry['id']} ({entry['subject']}, role {entry['role']})", "ok")


def _create(args: argparse.Namespace, path: Path, settings: Any) -> int:
    from meta_mcp.auth.tokens import create_token

    token, entry_id = create_token(path, args.subject, args.workspaces, args.role, args.note)
    entry = {"id": entry_id, "subject": args.subject, "workspaces": args.workspaces, "role": args.role}
    _audit(settings, "token create", [entry])
    if args.json:
        print(json.dumps({"token": token, **entry}))
    else:
        print(token)
        print(f"token {entry_id} for {args.subject} (role {args.role}; workspaces {', '.join(args.workspaces)}) "
              f"written to {path}; it is shown only now. Clients send: Authorization: Bearer <token>",
              file=sys.stderr)
    return 0


def _list(args: argparse.Namespace, path: Path) -> int:
    from meta_mcp.auth.tokens import list_tokens

    rows = list_tokens(path)
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
        return 0
    if not rows:
        print(f"No tokens in {path}.")
        return 0
    for row in rows:
        note = f"  — {row['note']}" if row.get("note") else ""
        print(f"{row['id']}  {row['subject']}  role {row['role']}  workspaces {', '.join(row.get('workspaces') or [])}"
              f"  created {row.get('created', '?')}{note}")
    return 0


def _revoke(args: argparse.Namespace, path: Path, settings: Any) -> int:
    from meta_mcp.auth.tokens import revoke_tokens

    removed = revoke_tokens(path, entry_id=args.id, subject=args.subject)
    _audit(settings, "token revoke", removed)
    if args.json:
        print(json.dumps(removed, default=str))
    elif removed:
        for row in removed:
            print(f"revoked {row['id']} ({row['subject']}, role {row['role']})")
    else:
        print(f"No token matches {args.id or args.subject!r} in {path}.", file=sys.stderr)
    return 0 if removed else 1


def http_auth(settings: Any) -> Any:
    """`serve --transport http`: the checked authentication and policy (`auth.setup.Auth`), or None after
    printing why meta-mcp will not serve that way."""
    from meta_mcp.auth.setup import AuthError, prepare

    try:
        return prepare(settings)
    except AuthError as exc:
        print(f"meta-mcp: {exc}", file=sys.stderr)
        return None
