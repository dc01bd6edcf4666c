"""Loading and validating sentence-pair data: benchmarks (`sts`) and the user's own files (`files`)."""

from embedlab.data.files import PairColumns, load_pair_file
from embedlab.data.sts import STS_SUITE, STS_TASKS, load_sts

__all__ = ["STS_SUITE", "STS_TASKS", "PairColumns", "load_pair_file", "load_sts"]
