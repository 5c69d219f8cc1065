import sys

from cimscope.cli import main

sys.exit(main())
