"""spark-submit entry of the validation job."""

import sys

from tasks.data.validation import main

if __name__ == "__main__":
    main(sys.argv[1:])
