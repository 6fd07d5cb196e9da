/*
 * tag-slow: marks slow spans and drops the spans of one route.
 *
 * The same plugin exists in Python and JavaScript
 * (plugins/examples/{python,js}); the end-to-end test runs each through a
 * real weir pipeline and checks the result span by span.
 *
 *     config {
 *         threshold-ms 250      // spans at least this long get slow=true
 *         drop-route "/healthz" // spans with this http.route are dropped
 *     }
 *
 * Build: sdk/c/build.sh plugins/examples/c/tag_slow.c -o tag_slow.wasm
 */
#define WEIR_DEFAULT_TICK_AND_STATE
#include "weir_plugin.h"

static int64_t threshold_ns = 250 * 1000000LL;
static char *drop_route = NULL;

bool exports_weir_pipeline_processor_init(plugin_list_tuple2_string_string_t *config,
                                          weir_error_t *err) {
    static const char *const known[] = {"threshold-ms", "drop-route", NULL};
    double ms = 250;
    bool ok = weir_config_deny_unknown(config, known, err) &&
              weir_config_double(config, "threshold-ms", &ms, err);
    if (ok) {
        threshold_ns = (int64_t)(ms * 1e6);
        free(drop_route);
        drop_route = weir_config_strdup(config, "drop-route");
    }
    plugin_list_tuple2_string_string_free(config);
    return ok;
}

/* Tags spans of at least `threshold_ns` with slow=true; returns false on a
 * host error. */
static bool tag(weir_batch_t batch, size_t rows, weir_error_t *err) {
    static const char *const names[] = {"start_time", "end_time"};
    plugin_string_t storage[2];
    plugin_list_string_t list = weir_names(storage, names, 2);
    weir_pipeline_host_list_column_t cols;
    weir_pipeline_host_host_error_t herr;
    if (!weir_pipeline_host_method_batch_read_columns(batch, &list, &cols, &herr)) {
        return weir_host_failed(err, &herr);
    }
    weir_pipeline_host_column_t *start = weir_find_column(&cols, "start_time");
    weir_pipeline_host_column_t *end = weir_find_column(&cols, "end_time");
    bool ok = true;
    if (start && end && start->values.tag == WEIR_PIPELINE_TYPES_COLUMN_VALUES_TIMESTAMP &&
        end->values.tag == WEIR_PIPELINE_TYPES_COLUMN_VALUES_TIMESTAMP) {
        weir_pipeline_host_attribute_column_t slow = weir_attribute_column("slow", rows);
        uint64_t tagged = 0;
        for (size_t i = 0; i < rows; i++) {
            if (end->values.val.timestamp.ptr[i] - start->values.val.timestamp.ptr[i] >= threshold_ns) {
                weir_attribute_set_bool(&slow, i, true);
                tagged++;
            }
        }
        if (tagged > 0) {
            if (!weir_pipeline_host_method_batch_set_attribute(
                    batch, WEIR_PIPELINE_TYPES_ATTRIBUTE_SCOPE_RECORD, &slow, &herr)) {
                ok = weir_host_failed(err, &herr);
            } else {
                weir_counter_add("slow_spans_total", tagged);
            }
        }
        weir_pipeline_host_attribute_column_free(&slow);
    }
    weir_pipeline_host_list_column_free(&cols);
    return ok;
}

/* Drops spans whose http.route is `drop_route`. */
static bool drop(weir_batch_t batch, size_t rows, weir_error_t *err) {
    static const char *const keys[] = {"http.route"};
    plugin_string_t storage[1];
    plugin_list_string_t list = weir_names(storage, keys, 1);
    weir_pipeline_host_list_attribute_column_t attrs;
    weir_pipeline_host_host_error_t herr;
    if (!weir_pipeline_host_method_batch_read_attributes(
            batch, WEIR_PIPELINE_TYPES_ATTRIBUTE_SCOPE_RECORD, &list, &attrs, &herr)) {
        return weir_host_failed(err, &herr);
    }
    bool ok = true;
    if (attrs.len == 1) {
        plugin_list_u8_t keep = weir_bitmap(rows);
        size_t dropped = 0;
        for (size_t i = 0; i < rows; i++) {
            plugin_string_t route;
            if (weir_attribute_str(&attrs.ptr[0], i, &route) && weir_str_eq(&route, drop_route)) {
                dropped++;
            } else {
                weir_bit_set(&keep, i);
            }
        }
        uint32_t left;
        if (dropped > 0 && !weir_pipeline_host_method_batch_keep_rows(batch, &keep, &left, &herr)) {
            ok = weir_host_failed(err, &herr);
        }
        plugin_list_u8_free(&keep);
    }
    weir_pipeline_host_list_attribute_column_free(&attrs);
    return ok;
}

bool exports_weir_pipeline_processor_process(weir_batch_t batch, weir_error_t *err) {
    if (weir_pipeline_host_method_batch_signal(batch) != WEIR_PIPELINE_TYPES_SIGNAL_TRACES) {
        return true;
    }
    size_t rows = weir_pipeline_host_method_batch_len(batch);
    if (rows == 0) return true;
    if (!tag(batch, rows, err)) return false;
    return drop_route == NULL || drop(batch, rows, err);
}
