"""python -m fastinit.cli"""
import sys

from . import main

sys.exit(main())
