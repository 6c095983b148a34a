"""spark-submit entry of one tuning application (one mapped tune task)."""

import sys

from tasks.tuning.app import main

if __name__ == "__main__":
    main(sys.argv[1:])
