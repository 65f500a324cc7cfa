"""What the node's workload would cost on AWS Lambda.

``usage.py`` counts requests and GB-seconds per function, architecture and
hour into the ``billing_usage`` table; ``metrics.py`` serves them as the
CloudWatch namespace ``Loam/Billing``; ``prices.py`` / ``prices.json`` is
the price table and ``estimate.py`` the bill (used by ``loam cost``).
"""

from __future__ import annotations

from loam.billing.estimate import Cost, Usage, estimate, month_of
from loam.billing.metrics import NAMESPACE, BillingMetrics
from loam.billing.prices import InvalidPriceTable, PriceTable, load_prices
from loam.billing.usage import UsageRecorder, UsageRow

__all__ = ["NAMESPACE", "BillingMetrics", "Cost", "InvalidPriceTable", "PriceTable", "Usage",
           "UsageRecorder", "UsageRow", "estimate", "load_prices", "month_of"]
