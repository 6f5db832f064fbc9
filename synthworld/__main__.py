import sys

from synthworld.cli import main

sys.exit(main())
