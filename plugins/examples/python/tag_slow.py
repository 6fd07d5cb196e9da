"""tag-slow: marks slow spans and drops the spans of one route.

The same plugin exists in JavaScript and C (plugins/examples/{js,c}); the
end-to-end test runs each through a real weir pipeline and checks the
result span by span.

    config {
        threshold-ms 250      // spans at least this long get slow=true
        drop-route "/healthz" // spans with this http.route are dropped
    }
"""

from weir_plugin import Plugin, Scope, counter_add


class Processor(Plugin):
    def configure(self, config):
        self.threshold_ns = int(config.float("threshold-ms", default=250.0) * 1_000_000)
        self.drop_route = config.str("drop-route")
        config.deny_unknown()

    def handle(self, batch):
        if batch.signal != "traces" or len(batch) == 0:
            return
        cols = batch.columns(["start_time", "end_time"])
        durations = [e - s for s, e in zip(cols["start_time"], cols["end_time"])]
        slow = [True if d >= self.threshold_ns else None for d in durations]
        if any(slow):
            batch.set_attribute(Scope.RECORD, "slow", slow)
            counter_add("slow_spans_total", sum(1 for s in slow if s))
        if self.drop_route is not None:
            routes = batch.attributes(Scope.RECORD, ["http.route"])["http.route"]
            keep = [r != self.drop_route for r in routes]
            if not all(keep):
                batch.keep(keep)
