"""spark-submit entry of the export application (retrain, evaluate, champion, report)."""

import sys

from tasks.export.app import main

if __name__ == "__main__":
    main(sys.argv[1:])
