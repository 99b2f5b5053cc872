import sys

from sattn.cli.main import main

sys.exit(main())
