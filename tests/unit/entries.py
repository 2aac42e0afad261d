"""A test catalog in Docker's format, and the secrets meta-mcp finds for it.

Entries run a local command (this interpreter), except `boxed` (a Docker image only):
- `greeter` needs secret GREETER_TOKEN (set) and config `greeting` (a string: a form can ask for it),
  which reaches the server as GREETING;
- `vault` needs secrets OTHER_KEY (set) and VAULT_KEY (not set);
- `lister` needs config `paths` (an array: a form cannot hold it).
"""

from __future__ import annotations

import sys
from typing import Any

TOKEN = "tok-VALUE-never-shown"
OTHER = "other-VALUE-never-shown"
RUN = {"command": sys.executable, "args": ["-c", "pass"]}

CATALOG: dict[str, Any] = {
    "greeter": {
        "title": "Greeter", "description": "Greets with a configured greeting.", "type": "server",
        "run": {**RUN, "env": {"GREETING": "{{greeter.greeting}}"}},
        "secrets": [{"name": "greeter.token", "env": "GREETER_TOKEN", "description": "The test token"}],
        "config": [{"name": "greeter", "type": "object", "required": ["greeting"],
                    "properties": {"greeting": {"type": "string", "description": "How to greet"}}}],
    },
    "vault": {
        "title": "Vault", "type": "server", "run": RUN,
        "secrets": [{"name": "vault.other", "env": "OTHER_KEY"},
                    {"name": "vault.key", "env": "VAULT_KEY", "description": "The vault key"}],
    },
    "lister": {
        "title": "Lister", "type": "server", "run": {**RUN, "args": ["-c", "pass", "{{lister.paths|into}}"]},
        "config": [{"name": "lister", "type": "object", "required": ["paths"],
                    "properties": {"paths": {"type": "array", "items": {"type": "string"},
                                             "description": "Directories to list"}}}],
    },
    "boxed": {"title": "Boxed", "type": "server", "image": "mcp/boxed:1"},
}
SECRETS = {"GREETER_TOKEN": TOKEN, "OTHER_KEY": OTHER}
