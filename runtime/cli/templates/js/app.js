// {{name}}: a weir processor plugin.
//
// Adds the attribute `greeting` (the `greeting` setting, default "hello")
// to every span and log record. Change `handle` to do what you need: read
// columns (`batch.columns(['name', 'start_time'])`), attributes
// (`batch.attributes(Scope.RECORD, ['http.route'])`), write attributes, keep
// rows (`batch.keep([...])`), or run the host kernels (`redact`,
// `hashAttributes`, `deleteAttributes`, `keepTraceIdRatio`).
import { definePlugin, Scope } from './sdk/js/weir-plugin.js';

export const processor = definePlugin({
  configure(config) {
    this.greeting = config.str('greeting', 'hello');
    config.denyUnknown();
  },

  handle(batch) {
    if (batch.signal === 'metrics' || batch.length === 0) return;
    batch.setAttribute(Scope.RECORD, 'greeting', new Array(batch.length).fill(this.greeting));
  },
});
