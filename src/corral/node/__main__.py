import sys

from corral.node.agent import main

sys.exit(main())
