"""Spark application entry files, one per job, for spark-submit.

spark-submit runs a file, which puts this folder first on ``sys.path``; keeping only
thin entry files here means no module of ``tasks`` can shadow another package.
"""
