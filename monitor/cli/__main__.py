"""`python -m monitor.cli`: the same as the `policywatch` command."""

import sys

from monitor.cli.main import main

sys.exit(main())
