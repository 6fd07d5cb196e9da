/*
 * weir_plugin.h: write weir processor plugins in C.
 *
 * A thin layer over the bindings wit-bindgen generates from wit/pipeline.wit
 * (sdk/c/generated/, committed, regenerated with sdk/c/bindgen): a plugin
 * implements the five `exports_weir_pipeline_processor_*` functions and uses
 * these helpers to read its configuration, read columns and attributes, build
 * attribute columns and selections, and report errors. Build it with
 * sdk/c/build.sh (clang for wasm32-wasi, then `weir plugin componentize`).
 *
 * Memory: what a host call returns belongs to the plugin (free it with the
 * generated `*_free`); what the host passes to an export (the config list,
 * restored state) belongs to the plugin too. The helpers below say what
 * they allocate.
 */
#ifndef WEIR_PLUGIN_H
#define WEIR_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

#define WEIR_ABI_VERSION "weir:pipeline@0.1.0"

typedef weir_pipeline_host_borrow_batch_t weir_batch_t;
typedef exports_weir_pipeline_processor_plugin_error_t weir_error_t;

/* ---------------------------------------------------------------- errors */

/* Fills `err` with a plugin error of `tag` and a printf-style message;
 * returns false, so `return weir_fail(err, ...)` reads naturally. */
static inline bool weir_error(weir_error_t *err, uint8_t tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline bool weir_error(weir_error_t *err, uint8_t tag, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    err->tag = tag;
    plugin_string_dup(&err->val.failed, buf);
    return false;
}
#define weir_invalid_config(err, ...) \
    weir_error((err), WEIR_PIPELINE_TYPES_PLUGIN_ERROR_INVALID_CONFIG, __VA_ARGS__)
#define weir_fail(err, ...) weir_error((err), WEIR_PIPELINE_TYPES_PLUGIN_ERROR_FAILED, __VA_ARGS__)

/* Turns a host error into a failed batch (frees the host error). */
static inline bool weir_host_failed(weir_error_t *err, weir_pipeline_host_host_error_t *host) {
    static const char *what[] = {"unknown column", "invalid column", "invalid pattern",
                                 "host limit exceeded"};
    plugin_string_t *s = &host->val.unknown_column;
    bool ok = weir_fail(err, "%s: %.*s", host->tag < 4 ? what[host->tag] : "host error",
                        (int)s->len, (const char *)s->ptr);
    weir_pipeline_host_host_error_free(host);
    return ok;
}

/* ---------------------------------------------------------------- config */

/* The config pairs `init` got. */
typedef plugin_list_tuple2_string_string_t weir_config_t;

static inline bool weir_str_eq(const plugin_string_t *s, const char *c) {
    size_t n = strlen(c);
    return s->len == n && memcmp(s->ptr, c, n) == 0;
}

/* The last value of `key`, or NULL. Borrowed from `config`. */
static inline const plugin_string_t *weir_config_get(const weir_config_t *config, const char *key) {
    const plugin_string_t *found = NULL;
    for (size_t i = 0; i < config->len; i++) {
        if (weir_str_eq(&config->ptr[i].f0, key)) found = &config->ptr[i].f1;
    }
    return found;
}

/* The value of `key` copied into a NUL-terminated string (malloc), or NULL. */
static inline char *weir_config_strdup(const weir_config_t *config, const char *key) {
    const plugin_string_t *v = weir_config_get(config, key);
    if (!v) return NULL;
    char *s = malloc(v->len + 1);
    memcpy(s, v->ptr, v->len);
    s[v->len] = 0;
    return s;
}

/* `key` as a number into `out` (left unchanged when unset); false with
 * `err` filled when it is not a number. */
static inline bool weir_config_double(const weir_config_t *config, const char *key, double *out,
                                      weir_error_t *err) {
    char *s = weir_config_strdup(config, key);
    if (!s) return true;
    char *end = NULL;
    double v = strtod(s, &end);
    bool ok = end != s && *end == 0;
    if (ok) *out = v;
    else weir_invalid_config(err, "`%s` must be a number, got \"%s\"", key, s);
    free(s);
    return ok;
}

/* False with `err` filled when `config` has a key not in `known` (NULL-terminated). */
static inline bool weir_config_deny_unknown(const weir_config_t *config, const char *const *known,
                                            weir_error_t *err) {
    for (size_t i = 0; i < config->len; i++) {
        bool ok = false;
        for (const char *const *k = known; *k; k++) ok = ok || weir_str_eq(&config->ptr[i].f0, *k);
        if (!ok) {
            return weir_invalid_config(err, "unknown setting `%.*s`", (int)config->ptr[i].f0.len,
                                       (const char *)config->ptr[i].f0.ptr);
        }
    }
    return true;
}

/* ---------------------------------------------------------------- reads */

/* A list of borrowed strings for a host call (no copy). */
static inline plugin_list_string_t weir_names(plugin_string_t *storage, const char *const *names,
                                              size_t n) {
    for (size_t i = 0; i < n; i++) plugin_string_set(&storage[i], names[i]);
    return (plugin_list_string_t){storage, n};
}

/* The column called `name` in a read-columns result, or NULL. */
static inline weir_pipeline_host_column_t *weir_find_column(weir_pipeline_host_list_column_t *cols,
                                                            const char *name) {
    for (size_t i = 0; i < cols->len; i++) {
        if (weir_str_eq(&cols->ptr[i].name, name)) return &cols->ptr[i];
    }
    return NULL;
}

/* Row i of an attribute column, when it is a string: true and `out` set. */
static inline bool weir_attribute_str(const weir_pipeline_host_attribute_column_t *c, size_t i,
                                      plugin_string_t *out) {
    if (i >= c->kinds.len || c->kinds.ptr[i] != WEIR_PIPELINE_TYPES_VALUE_KIND_STRING) return false;
    uint32_t a = c->strings.offsets.ptr[i], b = c->strings.offsets.ptr[i + 1];
    out->ptr = c->strings.data.ptr + a;
    out->len = b - a;
    return true;
}

/* ---------------------------------------------------------------- writes */

/* A bitmap of `n` bits (LSB first), all clear (calloc). */
static inline plugin_list_u8_t weir_bitmap(size_t n) {
    size_t bytes = (n + 7) / 8;
    return (plugin_list_u8_t){calloc(bytes ? bytes : 1, 1), bytes};
}

static inline void weir_bit_set(plugin_list_u8_t *bitmap, size_t i) {
    bitmap->ptr[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* An attribute column of `rows` absent values for `key` (malloc; free
 * with weir_pipeline_host_attribute_column_free). Set rows with
 * weir_attribute_set_bool/_int. */
static inline weir_pipeline_host_attribute_column_t weir_attribute_column(const char *key,
                                                                          size_t rows) {
    weir_pipeline_host_attribute_column_t c;
    memset(&c, 0, sizeof c);
    plugin_string_dup(&c.key, key);
    c.kinds.ptr = calloc(rows ? rows : 1, sizeof *c.kinds.ptr);
    c.kinds.len = rows;
    c.strings.offsets.ptr = calloc(rows + 1, sizeof(uint32_t));
    c.strings.offsets.len = rows + 1;
    c.strings.data.ptr = malloc(1);
    c.ints.ptr = calloc(rows ? rows : 1, sizeof(int64_t));
    c.ints.len = rows;
    c.doubles.ptr = calloc(rows ? rows : 1, sizeof(double));
    c.doubles.len = rows;
    c.bools = weir_bitmap(rows);
    c.bytes.offsets.ptr = calloc(rows + 1, sizeof(uint32_t));
    c.bytes.offsets.len = rows + 1;
    c.bytes.data.ptr = malloc(1);
    return c;
}

static inline void weir_attribute_set_bool(weir_pipeline_host_attribute_column_t *c, size_t i,
                                           bool v) {
    c->kinds.ptr[i] = WEIR_PIPELINE_TYPES_VALUE_KIND_BOOLEAN;
    if (v) weir_bit_set(&c->bools, i);
}

static inline void weir_attribute_set_int(weir_pipeline_host_attribute_column_t *c, size_t i,
                                          int64_t v) {
    c->kinds.ptr[i] = WEIR_PIPELINE_TYPES_VALUE_KIND_INT;
    c->ints.ptr[i] = v;
}

/* ---------------------------------------------------------------- services */

static inline void weir_counter_add(const char *name, uint64_t value) {
    plugin_string_t n;
    plugin_string_set(&n, name);
    plugin_list_tuple2_string_string_t labels = {NULL, 0};
    weir_pipeline_host_counter_add(&n, value, &labels);
}

static inline void weir_log(weir_pipeline_host_log_level_t level, const char *message) {
    plugin_string_t m;
    plugin_string_set(&m, message);
    plugin_list_tuple2_string_string_t fields = {NULL, 0};
    weir_pipeline_host_log(level, &m, &fields);
}

/* Default exports for plugins without state or ticks: define
 * WEIR_DEFAULT_TICK_AND_STATE before including this header. */
#ifdef WEIR_DEFAULT_TICK_AND_STATE
bool exports_weir_pipeline_processor_tick(int64_t now,
                                          exports_weir_pipeline_processor_list_metric_point_t *ret,
                                          weir_error_t *err) {
    (void)now;
    (void)err;
    ret->ptr = NULL;
    ret->len = 0;
    return true;
}

void exports_weir_pipeline_processor_snapshot_state(plugin_list_u8_t *ret) {
    ret->ptr = NULL;
    ret->len = 0;
}

bool exports_weir_pipeline_processor_restore_state(plugin_list_u8_t *state, weir_error_t *err) {
    (void)err;
    plugin_list_u8_free(state);
    return true;
}
#endif

#endif /* WEIR_PLUGIN_H */
