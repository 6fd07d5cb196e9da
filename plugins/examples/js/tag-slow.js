// tag-slow: marks slow spans and drops the spans of one route.
//
// The same plugin exists in Python and C (plugins/examples/{python,c});
// the end-to-end test runs each through a real weir pipeline and checks
// the result span by span.
//
//   config {
//       threshold-ms 250      // spans at least this long get slow=true
//       drop-route "/healthz" // spans with this http.route are dropped
//   }
import { definePlugin, Scope, counterAdd } from '../../../sdk/js/weir-plugin.js';

export const processor = definePlugin({
  configure(config) {
    this.thresholdNs = BigInt(Math.round(config.number('threshold-ms', 250) * 1e6));
    this.dropRoute = config.str('drop-route');
    config.denyUnknown();
  },

  handle(batch) {
    if (batch.signal !== 'traces' || batch.length === 0) return;
    const cols = batch.columns(['start_time', 'end_time']);
    const slow = cols.start_time.map((s, i) => (cols.end_time[i] - s >= this.thresholdNs ? true : null));
    const tagged = slow.filter((s) => s).length;
    if (tagged > 0) {
      batch.setAttribute(Scope.RECORD, 'slow', slow);
      counterAdd('slow_spans_total', tagged);
    }
    if (this.dropRoute !== undefined) {
      const routes = batch.attributes(Scope.RECORD, ['http.route'])['http.route'];
      const keep = routes.map((r) => r !== this.dropRoute);
      if (keep.includes(false)) batch.keep(keep);
    }
  },
});
