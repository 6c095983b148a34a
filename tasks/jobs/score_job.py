"""spark-submit entry of scoring: a model's predictions for a ds partition."""

import sys

from tasks.export.app import score_main

if __name__ == "__main__":
    score_main(sys.argv[1:])
