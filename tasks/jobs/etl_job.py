"""spark-submit entry of the ETL job."""

import sys

from tasks.data.etl import main

if __name__ == "__main__":
    main(sys.argv[1:])
