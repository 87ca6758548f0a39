import sys

from tda_backend.stack.cli import main

sys.exit(main())
