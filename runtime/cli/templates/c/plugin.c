/*
 * {{name}}: a weir processor plugin.
 *
 * Adds the attribute `greeting` (the `greeting` setting, default "hello")
 * to every span and log record. The generated bindings are in
 * sdk/c/generated/plugin.h; the helpers in sdk/c/weir_plugin.h.
 */
#define WEIR_DEFAULT_TICK_AND_STATE
#include "weir_plugin.h"

static char *greeting = NULL;

bool exports_weir_pipeline_processor_init(plugin_list_tuple2_string_string_t *config,
                                          weir_error_t *err) {
    static const char *const known[] = {"greeting", NULL};
    bool ok = weir_config_deny_unknown(config, known, err);
    if (ok) {
        free(greeting);
        greeting = weir_config_strdup(config, "greeting");
        if (!greeting) greeting = strdup("hello");
    }
    plugin_list_tuple2_string_string_free(config);
    return ok;
}

bool exports_weir_pipeline_processor_process(weir_batch_t batch, weir_error_t *err) {
    if (weir_pipeline_host_method_batch_signal(batch) == WEIR_PIPELINE_TYPES_SIGNAL_METRICS) {
        return true;
    }
    size_t rows = weir_pipeline_host_method_batch_len(batch);
    if (rows == 0) return true;
    /* Every row gets the same string: one copy per row in the column. */
    size_t n = strlen(greeting);
    weir_pipeline_host_attribute_column_t c = weir_attribute_column("greeting", rows);
    free(c.strings.data.ptr);
    c.strings.data.ptr = malloc(n * rows + 1);
    c.strings.data.len = n * rows;
    for (size_t i = 0; i < rows; i++) {
        c.kinds.ptr[i] = WEIR_PIPELINE_TYPES_VALUE_KIND_STRING;
        memcpy(c.strings.data.ptr + i * n, greeting, n);
        c.strings.offsets.ptr[i + 1] = (uint32_t)((i + 1) * n);
    }
    weir_pipeline_host_host_error_t herr;
    bool ok = weir_pipeline_host_method_batch_set_attribute(
        batch, WEIR_PIPELINE_TYPES_ATTRIBUTE_SCOPE_RECORD, &c, &herr);
    weir_pipeline_host_attribute_column_free(&c);
    return ok || weir_host_failed(err, &herr);
}
