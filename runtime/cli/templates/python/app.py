"""{{name}}: a weir processor plugin.

Adds the attribute ``greeting`` (the ``greeting`` setting, default "hello")
to every span and log record. Change ``handle`` to do what you need: read
columns (``batch.columns(["name", "start_time"])``), attributes
(``batch.attributes(Scope.RECORD, ["http.route"])``), write attributes, keep
rows (``batch.keep([...])``), or run the host kernels (``redact``,
``hash_attributes``, ``delete_attributes``, ``keep_trace_id_ratio``).
"""

from weir_plugin import Plugin, Scope


class Processor(Plugin):
    def configure(self, config):
        self.greeting = config.str("greeting", default="hello")
        config.deny_unknown()

    def handle(self, batch):
        if batch.signal == "metrics" or len(batch) == 0:
            return
        batch.set_attribute(Scope.RECORD, "greeting", [self.greeting] * len(batch))
