"""A small application instrumented with the real prometheus_client library.

Serves /metrics on 127.0.0.1:PORT (OpenMetrics or text 0.0.4, as the
scraper asks) with a counter, a gauge, a histogram and a summary of known
values, prints "ready" and exits after --lifetime seconds (so a test that
dies never leaves it behind for long).

    python prom_app.py --port 9100 [--lifetime 120]
"""

import argparse
import sys
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, start_http_server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lifetime", type=float, default=120.0)
    args = parser.parse_args()

    registry = CollectorRegistry()
    orders = Counter("shop_orders", "Orders placed.", ["method"], registry=registry)
    orders.labels("card").inc(3)
    orders.labels("cash").inc(5)
    temperature = Gauge("shop_temperature_celsius", "Temperature in the shop.", registry=registry)
    temperature.set(21.5)
    latency = Histogram("shop_latency_seconds", "Checkout latency.", buckets=[0.1, 0.5, 1.0], registry=registry)
    for v in (0.05, 0.3, 0.7, 2.0):
        latency.observe(v)
    size = Summary("shop_basket_bytes", "Basket sizes.", registry=registry)
    size.observe(100)
    size.observe(300)

    start_http_server(args.port, addr="127.0.0.1", registry=registry)
    print("ready", flush=True)
    time.sleep(args.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
