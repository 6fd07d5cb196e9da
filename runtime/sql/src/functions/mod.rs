//! weir's SQL functions, registered for `weir query` and the SQL processor
//! alike (see `docs/sql.md`).
//!
//! | function | what |
//! |---|---|
//! | `attr(map, key)`, `attr_int`, `attr_double`, `attr_bool` | an attribute's value by key ([`attr`]) |
//! | `attr_set(map, key, value)`, `attr_delete(map, key)` | a map with one attribute set or removed ([`edit`]) |
//! | `id_hex(id)`, `trace_id_ratio(trace_id)` | trace/span id helpers ([`ids`]) |
//! | `duration_ns(start, end)`, `duration_ms(start, end)` | time between two timestamps ([`duration`]) |
//! | `histogram_bucket(value, bounds)`, `histogram(value, bounds)` | explicit-bucket histograms ([`histogram`]) |

pub mod attr;
pub mod duration;
pub mod edit;
pub mod histogram;
pub mod ids;

use datafusion::prelude::SessionContext;

use attr::AttrKind;

/// Registers every weir function on `ctx`.
pub fn register(ctx: &SessionContext) {
    for kind in [
        AttrKind::Any,
        AttrKind::Int,
        AttrKind::Double,
        AttrKind::Bool,
    ] {
        ctx.register_udf(attr::attr_udf_of(kind));
    }
    ctx.register_udf(edit::attr_set_udf());
    ctx.register_udf(edit::attr_delete_udf());
    ctx.register_udf(ids::id_hex_udf());
    ctx.register_udf(ids::trace_id_ratio_udf());
    ctx.register_udf(duration::duration_ns_udf());
    ctx.register_udf(duration::duration_ms_udf());
    ctx.register_udf(histogram::histogram_bucket_udf());
    ctx.register_udaf(histogram::histogram_udaf());
}
