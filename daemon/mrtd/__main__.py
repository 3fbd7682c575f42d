import sys

from mrtd.app.cli import main

sys.exit(main())
