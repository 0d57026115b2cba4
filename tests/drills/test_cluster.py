"""Two API replicas and two workers on one cluster: intakes spread over both APIs get
distinct ticket numbers, and SIGKILLing one worker mid-run loses nothing (the survivor
works every ticket). The suite runs it sized down; bench/drill_cluster.py runs the
2,000 of issue 12 and prints the same figures."""

from __future__ import annotations

import os

from tests.drills.cluster import cluster_drill

COUNT = int(os.environ.get("TEMPODESK_DRILL_INTAKES", "300"))


async def test_two_apis_two_workers_one_sigkilled(dev_client, tmp_path):
    figures = await cluster_drill(dev_client, tmp_path, COUNT)
    print("\n" + figures.text())
