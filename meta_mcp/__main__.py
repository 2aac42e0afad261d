import sys

from meta_mcp.cli import main

sys.exit(main())
