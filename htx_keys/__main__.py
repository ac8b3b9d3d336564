import sys

from htx_keys.cli import main

sys.exit(main())
