"""The one date every generated, committed file is priced for (docs blocks, golden files, README figures).

The plan prices for today unless told otherwise, so anything committed from its output would go stale the
next day. Generators and the tests that compare against them pass this date (`plan --as-of`). It is the
date of the price catalogue (config/data/hetzner-catalogue.yaml), so the committed figures are the
catalogue's own. Change it only together with regenerating every generated block and golden file.
"""

from __future__ import annotations

import datetime as dt

GENERATED_AS_OF = dt.date(2026, 11, 23)
